"""Fixtures of the webhook tests: the loopback receiver (it verifies signatures with the
lines of docs/api.md), Celery run in-process, and endpoints made through the services."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from tests.fakes.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver():
    fake = WebhookReceiver()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def eager(settings):
    """Tasks run in this process when sent (their retries too, at once)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    return settings


def make_endpoint(org, receiver: WebhookReceiver, event_types=("call.ended",), path="/hooks"):
    """An endpoint of ``org`` at the receiver, through the service; the receiver learns its
    secret."""
    from integrations.webhook_services import webhook_endpoint_create

    with tenant_context(org):
        endpoint, secret = webhook_endpoint_create(
            data={"url": receiver.url(path), "event_types": list(event_types)}
        )
    receiver.secret = secret
    return endpoint, secret
