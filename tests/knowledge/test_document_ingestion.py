"""Every supported file type goes from upload to searchable chunks, through the API, with the
ingestion's progress visible; the ingestion task runs in the schema that queued it."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tenants.utils import tenant_context

from knowledge import selectors, services
from knowledge.models import Chunk, Document, IngestionStatus
from knowledge.tasks import ingest_document_version
from tests.knowledge.helpers import chunk_texts, doc_url, kb_url
from tests.knowledge.test_extraction import make_pdf

pytestmark = pytest.mark.django_db

SAMPLES = {
    "text": ("hours.txt", "text/plain", b"Our store opens at nine and closes at five on weekdays."),
    "markdown": (
        "returns.md",
        "text/markdown",
        b"# Returns\n\nItems can be returned within 30 days.\n\n## Refunds\n\n"
        b"Refunds reach your card within five working days.",
    ),
    "html": (
        "shipping.html",
        "text/html",
        b"<html><body><nav>Home | Shop | Cart</nav><main><h1>Shipping</h1>"
        b"<p>Orders ship within two days from our Leeds warehouse.</p></main>"
        b"<footer>Copyright Acme</footer></body></html>",
    ),
    "pdf": (
        "anvil-manual.pdf",
        "application/pdf",
        make_pdf(["Anvil manual.", "Anvils ship in three days and weigh forty kilograms."]),
    ),
    "csv": (
        "faq.csv",
        "text/csv",
        b"question,answer\nHow long is the warranty?,Two years on every product.\n"
        b"Can I pay by invoice?,Yes for business customers.\n"
        b"Do you ship abroad?,Only within the European Union.\n",
    ),
}


@pytest.fixture
def admin_client(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "admin"))


@pytest.mark.parametrize("source_type", list(SAMPLES))
def test_each_file_type_is_uploaded_ingested_and_searchable(
    source_type, kb, admin_client, ingesting
):
    filename, content_type, data = SAMPLES[source_type]

    with ingesting():
        response = admin_client.post(
            kb_url(kb, "documents/"),
            {"file": SimpleUploadedFile(filename, data, content_type=content_type)},
            format="multipart",
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["source_type"] == source_type
    assert body["title"] == filename.rsplit(".", 1)[0].replace("_", " ")
    document = Document.objects.get(pk=body["id"])
    texts = chunk_texts(document)
    assert texts and document.current_version.number == 1
    if source_type == "csv":
        assert texts == [
            "Q: How long is the warranty?\nA: Two years on every product.",
            "Q: Can I pay by invoice?\nA: Yes for business customers.",
            "Q: Do you ship abroad?\nA: Only within the European Union.",
        ]
    if source_type == "markdown":
        assert texts[-1].startswith("Returns > Refunds\n")
    if source_type == "html":
        assert not any("Cart" in text or "Copyright" in text for text in texts)
    detail = admin_client.get(doc_url(document)).json()
    assert detail["current_version"] == 1
    assert detail["ingestion"]["status"] == "ready"
    assert detail["ingestion"]["chunks_done"] == detail["ingestion"]["chunks_total"] == len(texts)


def test_pasted_content_is_added_as_json(kb, admin_client, ingesting):
    with ingesting():
        response = admin_client.post(
            kb_url(kb, "documents/"),
            {
                "title": "Product FAQ",
                "content": "Q: Is there a warranty?\nA: Two years.",
                "metadata": {"owner": "support"},
            },
            format="json",
        )

    assert response.status_code == 201, response.json()
    assert response.json()["source_type"] == "text"
    assert response.json()["metadata"] == {"owner": "support"}
    hits = selectors.search(knowledge_base_id=kb.pk, query="product warranty", top_k=5)
    assert hits[0].document_title == "Product FAQ"
    assert hits[0].version == 1 and hits[0].position == 0


def test_ingestion_progress_is_visible_before_and_after_the_worker_runs(
    kb, admin_client, ingesting
):
    with ingesting():
        created = admin_client.post(
            kb_url(kb, "documents/"), {"title": "Hours", "content": "Open nine to five."}
        ).json()
        # Not committed yet, so no worker has picked it up.
        assert created["ingestion"]["status"] == "pending"
        assert created["current_version"] is None

    document = Document.objects.get(pk=created["id"])
    done = admin_client.get(doc_url(document)).json()["ingestion"]
    assert done["status"] == "ready"
    assert done["chunks_done"] == done["chunks_total"] == done["chunks_embedded"] == 1
    assert done["error"] is None and done["ingested_at"]


def test_the_ingestion_task_runs_in_the_schema_that_queued_it(
    org_a, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with tenant_context(org_a), django_capture_on_commit_callbacks() as queued:
        kb = services.knowledge_base_create(name="Schemas")
        document = services.document_add(knowledge_base=kb, title="T", content="Tenant text.")

    # Run the queued task from the public schema, as a worker that served another tenant last.
    for callback in queued:
        callback()

    assert connection.schema_name == "public"  # restored after the task
    with tenant_context(org_a):
        version = Document.objects.get(pk=document.pk).latest_version
        assert version.status == IngestionStatus.READY
        assert Chunk.objects.filter(document_id=document.pk).count() == 1


def test_running_the_ingestion_twice_changes_nothing(kb, ingesting):
    with ingesting():
        document = services.document_add(knowledge_base=kb, title="T", content="Same text.")
    chunk_ids = list(Chunk.objects.filter(document=document).values_list("id", flat=True))

    ingest_document_version.apply(kwargs={"version_id": document.latest_version_id})

    assert list(Chunk.objects.filter(document=document).values_list("id", flat=True)) == chunk_ids


def test_services_queue_the_ingestion_by_the_name_the_task_is_registered_under():
    from knowledge.services.documents import INGEST_TASK
    from voiceagents.queue import task_by_name

    assert task_by_name(INGEST_TASK).name == ingest_document_version.name == INGEST_TASK
