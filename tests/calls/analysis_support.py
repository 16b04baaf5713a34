"""Fixtures of the post-call analysis tests: the text model (a loopback OpenAI chat
completions fake, the platform's key pointed at it), Celery in-process, and a webhook
receiver the organization's endpoint points at."""

from __future__ import annotations

import pytest

from tests.fakes import openai_http
from tests.fakes.openai_http import FakeOpenAIChat
from tests.fakes.webhook_receiver import WebhookReceiver


@pytest.fixture
def text_model(settings):
    with FakeOpenAIChat() as fake:
        settings.OPENAI_API_KEY = openai_http.API_KEY
        settings.OPENAI_BASE_URL = fake.base_url
        settings.CELERY_TASK_ALWAYS_EAGER = True
        yield fake


@pytest.fixture
def hooks(settings):
    settings.INTEGRATION_URLS_ALLOW_PRIVATE = True
    settings.INTEGRATION_URLS_ALLOW_HTTP = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with WebhookReceiver() as fake:
        yield fake
