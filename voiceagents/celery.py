"""The Celery app. Tenant-aware: a task sent while a tenant schema is active carries the schema
in its headers, and the worker switches to it before running the task (tenant-schemas-celery),
so task code never selects a schema by hand."""

import os
from typing import Any

from celery.signals import setup_logging
from tenant_schemas_celery.app import CeleryApp as TenantAwareCeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voiceagents.settings")

app = TenantAwareCeleryApp("voiceagents")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _keep_our_logging(**kwargs: Any) -> None:
    """A receiver here tells Celery not to replace the root logger's handlers with its own:
    workers and beat log through voiceagents.logging (JSON, secrets redacted) like the web."""
