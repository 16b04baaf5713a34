"""The Celery app. Tenant-aware: a task sent while a tenant schema is active carries the schema
in its headers, and the worker switches to it before running the task (tenant-schemas-celery),
so task code never selects a schema by hand."""

import os
from typing import Any

from celery.signals import beat_init, setup_logging, worker_init
from django.core.exceptions import ImproperlyConfigured
from tenant_schemas_celery.app import CeleryApp as TenantAwareCeleryApp

from voiceagents.secrets import encryption_keys_check

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voiceagents.settings")

app = TenantAwareCeleryApp("voiceagents")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _refuse_to_start_without_encryption_keys(**kwargs: Any) -> None:
    """Workers decrypt organizations' credentials: no worker or beat without
    SECRETS_ENCRYPTION_KEYS. Celery logs and swallows a handler's exceptions, so this exits."""
    try:
        encryption_keys_check()
    except ImproperlyConfigured as exc:
        raise SystemExit(f"celery: {exc}") from None


@setup_logging.connect
def _keep_our_logging(**kwargs: Any) -> None:
    """A receiver here tells Celery not to replace the root logger's handlers with its own:
    workers and beat log through voiceagents.logging (JSON, secrets redacted) like the web."""
