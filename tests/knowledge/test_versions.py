"""Version control: every content change is a new immutable version; versions are listed and
diffed; a rollback is a new version with old content; a deleted document leaves search."""

import pytest

from knowledge import selectors, services
from knowledge.models import Chunk, Document, DocumentVersion
from tests.knowledge.helpers import chunk_texts, doc_url, kb_url

pytestmark = pytest.mark.django_db

V1 = "Returns are accepted within 30 days.\nShipping is free above 50 euros."
V2 = "Returns are accepted within 60 days.\nShipping is free above 50 euros."
V3 = "Returns are accepted within 60 days.\nShipping costs 5 euros."


@pytest.fixture
def admin_client(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "admin"))


@pytest.fixture
def document(kb, admin_client, ingesting):
    """A policy document updated twice through the API: versions 1, 2 and 3."""
    with ingesting():
        created = admin_client.post(kb_url(kb, "documents/"), {"title": "Policy", "content": V1})
    document = Document.objects.get(pk=created.json()["id"])
    for content in (V2, V3):
        with ingesting():
            response = admin_client.patch(doc_url(document), {"content": content})
        assert response.status_code == 200, response.json()
    document.refresh_from_db()
    return document


def test_every_content_update_makes_a_new_version(document, admin_client):
    body = admin_client.get(doc_url(document)).json()

    assert body["current_version"] == body["latest_version"] == 3
    assert list(document.versions.order_by("number").values_list("content", flat=True)) == [
        V1,
        V2,
        V3,
    ]
    assert chunk_texts(document) == [V3]


def test_a_title_change_or_the_same_content_makes_no_new_version(document, admin_client):
    response = admin_client.patch(doc_url(document), {"title": "Store policy", "content": V3})

    assert response.status_code == 200
    assert response.json()["title"] == "Store policy"
    assert response.json()["latest_version"] == 3


def test_versions_are_listed_newest_first_with_author_and_ingestion(document, admin_client):
    body = admin_client.get(doc_url(document, "versions/")).json()

    assert [v["number"] for v in body["results"]] == [3, 2, 1]
    assert [v["is_current"] for v in body["results"]] == [True, False, False]
    assert all(v["ingestion"]["status"] == "ready" for v in body["results"])
    assert "content" not in body["results"][0]
    one = admin_client.get(doc_url(document, "versions/1/")).json()
    assert one["content"] == V1
    assert admin_client.get(doc_url(document, "versions/9/")).status_code == 404


def test_the_diff_between_two_versions_shows_the_changed_lines(document, admin_client):
    body = admin_client.get(doc_url(document, "versions/diff/"), {"from": 1, "to": 3}).json()

    assert body["from_version"] == 1 and body["to_version"] == 3
    lines = body["diff"].splitlines()
    assert "-Returns are accepted within 30 days." in lines
    assert "+Returns are accepted within 60 days." in lines
    assert "+Shipping costs 5 euros." in lines
    # "to" defaults to the latest version, "from" to the one before "to"
    latest = admin_client.get(doc_url(document, "versions/diff/")).json()
    assert (latest["from_version"], latest["to_version"]) == (2, 3)


def test_rollback_makes_a_new_version_with_the_old_content_and_search_follows(
    document, admin_client, ingesting
):
    with ingesting():
        response = admin_client.post(doc_url(document, "rollback/"), {"version": 1})

    assert response.status_code == 201, response.json()
    assert response.json()["latest_version"] == 4
    assert admin_client.get(doc_url(document)).json()["current_version"] == 4
    version = DocumentVersion.objects.get(document=document, number=4)
    assert version.content == V1
    assert version.note == "Rollback to version 1"
    hits = selectors.search(knowledge_base_id=document.knowledge_base_id, query="returns", top_k=5)
    assert [(hit.version, "30 days" in hit.text) for hit in hits] == [(4, True)]


def test_rollback_to_a_missing_version_is_not_found(document, admin_client):
    response = admin_client.post(doc_url(document, "rollback/"), {"version": 42})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "document_version_not_found"


def test_deleting_a_document_removes_its_chunks_and_versions(document, admin_client):
    response = admin_client.delete(doc_url(document))

    assert response.status_code == 204
    assert not Chunk.objects.filter(document_id=document.pk).exists()
    assert not DocumentVersion.objects.filter(document_id=document.pk).exists()
    assert selectors.search(knowledge_base_id=document.knowledge_base_id, query="returns") == []


def test_service_rollback_keeps_history(kb, ingesting):
    with ingesting():
        document = services.document_add(knowledge_base=kb, title="Hours", content="Open at 9.")
        services.document_update(document=document, content="Open at 10.")
        services.document_rollback(document=document, version_number=1)

    assert [v.content for v in document.versions.order_by("number")] == [
        "Open at 9.",
        "Open at 10.",
        "Open at 9.",
    ]
