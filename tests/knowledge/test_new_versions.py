"""Uploading a new version of a document, and what an upload named like an existing document
does: a new version replaces the old text in search (the history keeps it); a second document
of the same name is never made silently (409 document_exists, unless the client asks for a
new version); pasted text makes a document like a file does."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from knowledge import selectors, services
from knowledge.exceptions import DocumentAlreadyExists
from knowledge.models import Chunk, Document, DocumentVersion
from tests.knowledge.helpers import chunk_texts, doc_url, kb_url

pytestmark = pytest.mark.django_db

OLD = "Opening hours: we open at nine and close at five, Monday to Friday."
NEW = "Opening hours: we open at eight and close at six, Monday to Saturday."


@pytest.fixture
def clients(org_a, make_api_key, bearer):
    return {role: bearer(make_api_key(org_a, role)) for role in ("viewer", "admin")}


@pytest.fixture
def hours(kb, ingesting):
    """A document uploaded from hours.txt, ingested."""
    with ingesting():
        return services.document_add(knowledge_base=kb, content=OLD.encode(), filename="hours.txt")


def _search_texts(kb, query="when do you open") -> list[str]:
    return [hit.text for hit in selectors.search(knowledge_base_id=kb.pk, query=query, top_k=10)]


# --- the service -----------------------------------------------------------------------------


def test_a_new_version_replaces_the_old_text_in_search_and_keeps_the_history(kb, hours, ingesting):
    assert _search_texts(kb) == [OLD]

    with ingesting():
        version = services.document_version_add(
            document=hours, content=NEW.encode(), filename="hours.txt"
        )

    assert version is not None and version.number == 2
    hours.refresh_from_db()
    assert hours.current_version_id == hours.latest_version_id == version.pk
    assert _search_texts(kb) == [NEW]  # the old version's chunks are gone from search
    assert chunk_texts(hours) == [NEW]
    assert not Chunk.objects.filter(version__number=1, document=hours).exists()
    history = list(hours.versions.order_by("number").values_list("number", "content", "status"))
    assert history == [(1, OLD, "ready"), (2, NEW, "ready")]
    assert Document.objects.filter(knowledge_base=kb).count() == 1


def test_a_new_version_equal_to_the_latest_adds_nothing(kb, hours, ingesting):
    with ingesting():
        version = services.document_version_add(document=hours, content=OLD)

    assert version is None
    assert hours.versions.count() == 1


def test_a_pasted_new_version_keeps_the_documents_type(kb, ingesting):
    with ingesting():
        guide = services.document_add(
            knowledge_base=kb, title="Guide", content="# Guide\n\nStep one.", source_type="markdown"
        )
        version = services.document_version_add(document=guide, content="# Guide\n\nStep two.")

    assert version is not None and version.source_type == "markdown"


def test_adding_a_document_named_like_an_existing_one_is_refused(kb, hours, ingesting):
    with pytest.raises(DocumentAlreadyExists) as refused:
        services.document_add(knowledge_base=kb, title="HOURS", content=NEW)

    assert refused.value.status == 409
    assert refused.value.details == {"document_id": hours.pk, "document_title": "hours"}
    assert 'document named "hours"' in refused.value.message
    assert Document.objects.filter(knowledge_base=kb).count() == 1
    assert DocumentVersion.objects.filter(document__knowledge_base=kb).count() == 1


def test_asked_for_a_new_version_an_add_of_the_same_name_versions_the_document(
    kb, hours, ingesting
):
    with ingesting():
        document = services.document_add(
            knowledge_base=kb,
            content=NEW.encode(),
            filename="hours.txt",
            if_exists="new_version",
        )

    assert document.pk == hours.pk
    assert document.versions.count() == 2
    assert _search_texts(kb) == [NEW]


def test_a_renamed_document_is_still_found_by_its_file_name(kb, hours, ingesting):
    services.document_update(document=hours, title="Opening hours")

    with pytest.raises(DocumentAlreadyExists):
        services.document_add(knowledge_base=kb, content=NEW.encode(), filename="hours.txt")
    # A title given explicitly names the document: another title is another document.
    with ingesting():
        other = services.document_add(
            knowledge_base=kb, title="Holiday hours", content=NEW.encode(), filename="hours.txt"
        )
    assert other.pk != hours.pk


def test_the_same_name_in_another_knowledge_base_is_another_document(kb, hours, ingesting):
    other_kb = services.knowledge_base_create(name="Other")

    with ingesting():
        other = services.document_add(
            knowledge_base=other_kb, content=NEW.encode(), filename="hours.txt"
        )

    assert other.pk != hours.pk


# --- the API ----------------------------------------------------------------------------------


def test_the_api_uploads_a_new_version_as_a_file(kb, hours, clients, ingesting):
    upload = SimpleUploadedFile("hours.md", f"# Hours\n\n{NEW}".encode(), "text/markdown")

    with ingesting():
        response = clients["admin"].post(
            doc_url(hours, "versions/"), {"file": upload}, format="multipart"
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["id"], body["latest_version"], body["source_type"]) == (hours.pk, 2, "markdown")
    after = clients["viewer"].get(doc_url(hours)).json()
    assert after["current_version"] == 2 and after["ingestion"]["status"] == "ready"
    hits = clients["viewer"].post(kb_url(kb, "search/"), {"query": "when do you open"}).json()
    assert [(hit["version"], "eight" in hit["text"]) for hit in hits["results"]] == [(2, True)]
    versions = clients["viewer"].get(doc_url(hours, "versions/")).json()["results"]
    assert [(v["number"], v["filename"], v["is_current"]) for v in versions] == [
        (2, "hours.md", True),
        (1, "hours.txt", False),
    ]


def test_the_api_uploads_a_new_version_as_pasted_text(kb, hours, clients, ingesting):
    with ingesting():
        response = clients["admin"].post(doc_url(hours, "versions/"), {"content": NEW})
        unchanged = clients["admin"].post(doc_url(hours, "versions/"), {"content": NEW})

    assert response.status_code == 201 and response.json()["latest_version"] == 2
    assert unchanged.status_code == 200 and unchanged.json()["latest_version"] == 2
    assert hours.versions.count() == 2


def test_a_new_version_needs_content_and_an_admin(hours, clients):
    empty = clients["admin"].post(doc_url(hours, "versions/"), {}, format="json")
    viewer = clients["viewer"].post(doc_url(hours, "versions/"), {"content": NEW})

    assert empty.status_code == 400
    assert empty.json()["error"]["details"]["fields"] == {"content": ["Send content or a file."]}
    assert viewer.status_code == 403
    assert hours.versions.count() == 1


def test_another_organizations_document_gets_no_new_version(
    hours, org_a, org_b, make_api_key, bearer
):
    intruder = bearer(make_api_key(org_b, "admin"))
    with tenant_context(org_b):
        services.knowledge_base_create(name="Beta's")

    response = intruder.post(doc_url(hours, "versions/"), {"content": "Taken over."})

    assert response.status_code == 404
    with tenant_context(org_a):
        assert hours.versions.count() == 1


def test_the_api_refuses_a_second_document_of_the_same_name_and_says_what_to_do(kb, hours, clients):
    upload = SimpleUploadedFile("hours.txt", NEW.encode(), "text/plain")

    response = clients["admin"].post(kb_url(kb, "documents/"), {"file": upload}, format="multipart")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "document_exists"
    assert "new version" in error["message"]
    assert error["details"]["document_id"] == hours.pk
    assert error["details"]["document_title"] == "hours"
    assert error["details"]["new_version_url"].endswith(doc_url(hours, "versions/"))
    assert Document.objects.filter(knowledge_base=kb).count() == 1


def test_the_api_adds_a_new_version_when_asked_to(kb, hours, clients, ingesting):
    upload = SimpleUploadedFile("hours.txt", NEW.encode(), "text/plain")

    with ingesting():
        response = clients["admin"].post(
            kb_url(kb, "documents/"),
            {"file": upload, "if_exists": "new_version"},
            format="multipart",
        )

    assert response.status_code == 201, response.json()
    assert (response.json()["id"], response.json()["latest_version"]) == (hours.pk, 2)
    assert Document.objects.filter(knowledge_base=kb).count() == 1
    bad = clients["admin"].post(
        kb_url(kb, "documents/"), {"title": "X", "content": "Y", "if_exists": "replace_all"}
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]["details"]["fields"]) == {"if_exists"}


def test_pasted_text_makes_a_plain_text_document(kb, clients, ingesting):
    with ingesting():
        response = clients["admin"].post(
            kb_url(kb, "documents/"), {"title": "Parking", "content": "Parking is free."}
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["title"], body["source_type"], body["latest_version"]) == ("Parking", "text", 1)
    assert _search_texts(kb, "is parking free") == ["Parking is free."]


def test_a_rename_to_another_documents_name_is_refused(kb, hours, clients, ingesting):
    with ingesting():
        parking = services.document_add(knowledge_base=kb, title="Parking", content="Free.")

    with pytest.raises(DocumentAlreadyExists):
        services.document_update(document=parking, title="Hours")
    response = clients["admin"].patch(doc_url(parking), {"title": "HOURS"})
    recased = clients["admin"].patch(doc_url(hours), {"title": "Hours"})  # its own name

    assert response.status_code == 409
    assert response.json()["error"]["details"]["document_id"] == hours.pk
    assert recased.status_code == 200 and recased.json()["title"] == "Hours"
    parking.refresh_from_db()
    assert parking.title == "Parking"
