"""A failed ingestion records why it failed and leaves the previous version current and
searchable; once the cause is fixed, the version can be ingested again."""

import pytest

from knowledge import selectors, services
from knowledge.models import Chunk, IngestionStatus
from knowledge.tasks import ingest_document_version
from tests.fakes import openai_http
from tests.knowledge.helpers import doc_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "admin"))


def test_a_failed_ingestion_keeps_the_previous_version_searchable_and_says_why(
    openai_kb, settings, ingesting, admin_client
):
    with ingesting():
        document = services.document_add(
            knowledge_base=openai_kb, title="Warranty", content="The warranty lasts two years."
        )
    settings.OPENAI_API_KEY = "sk-revoked"  # the provider now refuses every request

    with ingesting():
        services.document_update(document=document, content="The warranty lasts five years.")

    version = document.versions.get(number=2)
    assert version.status == IngestionStatus.FAILED
    assert version.error_code == "embedding_provider_error"
    assert "401" in version.error_message and "Incorrect API key" in version.error_message
    body = admin_client.get(doc_url(document)).json()
    assert body["current_version"] == 1 and body["latest_version"] == 2
    assert body["ingestion"]["status"] == "failed"
    assert body["ingestion"]["error"]["code"] == "embedding_provider_error"

    settings.OPENAI_API_KEY = openai_http.API_KEY
    hits = selectors.search(knowledge_base_id=openai_kb.pk, query="warranty", top_k=3)
    assert [(hit.version, hit.text) for hit in hits] == [(1, "The warranty lasts two years.")]


def test_a_failed_version_is_ingested_again_once_the_cause_is_fixed(openai_kb, settings, ingesting):
    with ingesting():
        document = services.document_add(knowledge_base=openai_kb, title="W", content="Two years.")
        settings.OPENAI_API_KEY = "sk-revoked"
        services.document_update(document=document, content="Five years.")
    failed = document.versions.get(number=2)
    assert failed.status == IngestionStatus.FAILED

    settings.OPENAI_API_KEY = openai_http.API_KEY
    with ingesting():
        services.document_version_reingest(version=failed)

    failed.refresh_from_db()
    document.refresh_from_db()
    assert failed.status == IngestionStatus.READY and failed.error_code == ""
    assert document.current_version_id == failed.pk
    assert list(Chunk.objects.filter(document=document).values_list("text", flat=True)) == [
        "Five years."
    ]


def test_an_older_version_finishing_last_does_not_replace_a_newer_one(kb, ingesting):
    with ingesting():
        document = services.document_add(knowledge_base=kb, title="W", content="Version one.")
    with ingesting() as queued:
        services.document_update(document=document, content="Version two.")
        services.document_update(document=document, content="Version three.")

    # Both ran in order (3 after 2); now run version 2's task again, as a late redelivery.
    two = document.versions.get(number=2)
    two.status = IngestionStatus.PENDING
    two.save(update_fields=["status"])
    ingest_document_version.apply(kwargs={"version_id": two.pk})

    two.refresh_from_db()
    document.refresh_from_db()
    assert len(queued) == 2
    assert two.status == IngestionStatus.SUPERSEDED
    assert document.current_version.number == 3
    assert list(Chunk.objects.filter(document=document).values_list("text", flat=True)) == [
        "Version three."
    ]
