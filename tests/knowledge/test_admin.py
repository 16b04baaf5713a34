"""The knowledge pages of an organization's admin render and act through the services:
uploads of several files, ingestion progress, version history with diff and rollback, and the
search playground."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from knowledge import services
from knowledge.models import Document, KnowledgeBase

pytestmark = pytest.mark.django_db
HOST = "alpha.localhost"


@pytest.fixture
def admin_browser(org_a, make_member):
    client = Client(HTTP_HOST=HOST)
    client.force_login(make_member(org_a, "admin"))
    return client


@pytest.fixture
def viewer_browser(org_a, make_member):
    client = Client(HTTP_HOST=HOST)
    client.force_login(make_member(org_a, "viewer"))
    return client


@pytest.fixture
def document(kb, ingesting):
    with ingesting():
        document = services.document_add(
            knowledge_base=kb, title="Warranty", content="The warranty lasts two years."
        )
        services.document_update(document=document, content="The warranty lasts three years.")
    return document


def test_knowledge_base_pages_render(admin_browser, kb, document):
    pages = [
        "/admin/knowledge/knowledgebase/",
        "/admin/knowledge/knowledgebase/add/",
        f"/admin/knowledge/knowledgebase/{kb.pk}/change/",
        "/admin/knowledge/document/",
        f"/admin/knowledge/document/{document.pk}/change/",
        "/admin/knowledge/document/upload/",
    ]
    for page in pages:
        response = admin_browser.get(page)
        assert response.status_code == 200, page


def test_an_admin_creates_a_knowledge_base_through_the_form(admin_browser, in_org_a):
    def add(chunk_overlap: int):
        return admin_browser.post(
            "/admin/knowledge/knowledgebase/add/",
            {
                "name": "Manuals",
                "description": "",
                "embedding_model": "local/all-MiniLM-L6-v2",
                "chunk_size": 100,
                "chunk_overlap": chunk_overlap,
            },
        )

    response = add(chunk_overlap=80)
    assert response.status_code == 200  # refused: the overlap is too large
    assert "less than half of chunk_size" in response.content.decode()

    response = add(chunk_overlap=10)
    assert response.status_code == 302
    assert KnowledgeBase.objects.get(name="Manuals").embedding_dimensions == 384


def test_several_files_are_uploaded_at_once_and_a_bad_one_is_reported(admin_browser, kb, ingesting):
    files = [
        SimpleUploadedFile("hours.txt", b"Open nine to five.", content_type="text/plain"),
        SimpleUploadedFile(
            "faq.csv", b"question,answer\nRefunds?,Within 30 days.\n", content_type="text/csv"
        ),
        SimpleUploadedFile("broken.pdf", b"%PDF-1.4 broken", content_type="application/pdf"),
    ]

    with ingesting():
        response = admin_browser.post(
            "/admin/knowledge/document/upload/",
            {"knowledge_base": kb.pk, "files": files, "encoding": ""},
            follow=True,
        )

    page = response.content.decode()
    assert response.status_code == 200
    assert "2 document(s) added" in page
    assert "broken.pdf: The PDF cannot be read" in page
    assert sorted(Document.objects.filter(knowledge_base=kb).values_list("title", flat=True)) == [
        "faq",
        "hours",
    ]
    # The list shows each document's ingestion.
    listing = admin_browser.get("/admin/knowledge/document/").content.decode()
    assert "v1: Ready (1/1 chunks)" in listing


def test_version_history_diff_and_rollback(admin_browser, document, ingesting):
    change = admin_browser.get(f"/admin/knowledge/document/{document.pk}/change/").content.decode()
    assert "Version history" in change and "v2 <strong>(searchable)</strong>" in change

    diff = admin_browser.get(f"/admin/knowledge/document/{document.pk}/diff/?from=1&to=2")
    assert diff.status_code == 200
    assert '<div class="remove">-The warranty lasts two years.</div>' in diff.content.decode()
    assert '<div class="add">+The warranty lasts three years.</div>' in diff.content.decode()

    with ingesting():
        response = admin_browser.post(f"/admin/knowledge/document/{document.pk}/rollback/1/")
    assert response.status_code == 302
    document.refresh_from_db()
    assert (document.current_version.number, document.current_version.content) == (
        3,
        "The warranty lasts two years.",
    )


def test_the_search_playground_shows_ranked_chunks_with_their_scores(viewer_browser, document):
    response = viewer_browser.get(
        f"/admin/knowledge/knowledgebase/{document.knowledge_base_id}/search/",
        {"query": "how long is the warranty", "top_k": 5, "mode": "hybrid"},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "The warranty lasts three years." in page
    assert "cosine similarity" in page and "keyword rank" in page
    assert "data-relevance=" in page


def test_a_viewer_cannot_upload_or_roll_back(viewer_browser, document):
    assert viewer_browser.get("/admin/knowledge/document/upload/").status_code == 403
    rollback = viewer_browser.post(f"/admin/knowledge/document/{document.pk}/rollback/1/")
    assert rollback.status_code == 403
    assert document.versions.count() == 2
