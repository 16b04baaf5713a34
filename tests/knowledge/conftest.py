"""Fixtures for knowledge-base tests.

Ingestion runs in Celery; here tasks run eagerly, when the surrounding (test) transaction's
on-commit callbacks are run by ``ingesting()``, exactly as a worker would pick them up after a
real commit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

from knowledge import services
from knowledge.models import KnowledgeBase
from tests.fakes import openai_http


@pytest.fixture
def ingesting(settings, django_capture_on_commit_callbacks) -> Callable[[], AbstractContextManager]:
    """``with ingesting(): document_add(...)``: queued ingestions run (eagerly) on exit."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def kb(in_org_a) -> KnowledgeBase:
    """A knowledge base of alpha using the local MiniLM model."""
    return services.knowledge_base_create(name="Support")


@pytest.fixture
def openai_fake(settings) -> Iterator[openai_http.FakeOpenAIEmbeddings]:
    """The OpenAI embeddings fake, configured as the organization's provider."""
    with openai_http.FakeOpenAIEmbeddings() as fake:
        settings.OPENAI_API_KEY = openai_http.API_KEY
        settings.OPENAI_BASE_URL = fake.base_url
        yield fake


@pytest.fixture
def openai_kb(in_org_a, openai_fake) -> KnowledgeBase:
    return services.knowledge_base_create(
        name="Hosted", embedding_model="openai/text-embedding-3-small"
    )
