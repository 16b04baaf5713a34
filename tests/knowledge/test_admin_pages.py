"""The knowledge pages of the console: a document's page (content, chunks paged, version
history), uploading a new version of a document, what an upload named like an existing
document does, pasting text, and the search playground's relevance. Each acts through the
services; a viewer sees no button that would fail."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from knowledge import selectors, services
from knowledge.models import Document

pytestmark = pytest.mark.django_db
HOST = "alpha.localhost"
OLD = "Opening hours: we open at nine and close at five, Monday to Friday."
NEW = "Opening hours: we open at eight and close at six, Monday to Saturday."


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
def hours(kb, ingesting):
    with ingesting():
        return services.document_add(knowledge_base=kb, content=OLD.encode(), filename="hours.txt")


def _page(url: str) -> str:
    return f"/admin/knowledge/document/{url}"


def test_the_document_page_shows_its_content_chunks_and_history(admin_browser, hours):
    page = admin_browser.get(_page(f"{hours.pk}/change/")).content.decode()

    assert "Content of version 1 (searchable)" in page
    assert "uploaded as hours.txt" in page
    assert "Chunks searched (1)" in page
    assert "Chunk 1 · version 1" in page
    assert OLD in page
    assert 'data-version="1"' in page and "v1 <strong>(searchable)</strong>" in page
    assert f'href="/admin/knowledge/document/{hours.pk}/new-version/"' in page


def test_a_long_documents_chunks_are_paged(admin_browser, in_org_a, ingesting):
    small = services.knowledge_base_create(name="Small chunks", chunk_size=16, chunk_overlap=0)
    text = "\n\n".join(f"Paragraph {n} says something about topic {n} here." for n in range(30))
    with ingesting():
        document = services.document_add(knowledge_base=small, title="Long", content=text)
    total = selectors.document_chunk_list(document=document).count()
    assert total > 20

    first = admin_browser.get(_page(f"{document.pk}/change/")).content.decode()
    second = admin_browser.get(_page(f"{document.pk}/change/"), {"chunks": 2}).content.decode()

    assert f"Chunks searched ({total})" in first
    assert "Chunk 20 ·" in first and "Chunk 21 ·" not in first
    assert "Page 1 of 2" in first and "?chunks=2#kb-chunks" in first
    assert "Chunk 21 ·" in second and "Chunk 1 ·" not in second


def test_an_admin_uploads_a_new_version_of_a_document(admin_browser, kb, hours, ingesting):
    form = admin_browser.get(_page(f"{hours.pk}/new-version/")).content.decode()
    assert "Upload version 2" in form

    with ingesting():  # the ingestion runs as the block ends, as a worker would after commit
        response = admin_browser.post(
            _page(f"{hours.pk}/new-version/"),
            {"file": SimpleUploadedFile("hours.txt", NEW.encode(), "text/plain")},
        )

    assert response.status_code == 302
    assert response["Location"] == _page(f"{hours.pk}/change/")
    page = admin_browser.get(response["Location"]).content.decode()
    assert "Version 2 uploaded" in page
    assert "Content of version 2 (searchable)" in page and NEW in page
    assert "v2 <strong>(searchable)</strong>" in page
    hits = selectors.search(knowledge_base_id=kb.pk, query="when do you open", top_k=5)
    assert [(hit.version, hit.text) for hit in hits] == [(2, NEW)]
    assert Document.objects.filter(knowledge_base=kb).count() == 1


def test_a_new_version_can_be_pasted_and_an_identical_one_changes_nothing(
    admin_browser, hours, ingesting
):
    with ingesting():
        pasted = admin_browser.post(
            _page(f"{hours.pk}/new-version/"), {"content": NEW}, follow=True
        )
        again = admin_browser.post(_page(f"{hours.pk}/new-version/"), {"content": NEW}, follow=True)
    empty = admin_browser.post(_page(f"{hours.pk}/new-version/"), {"content": ""})

    assert "Version 2 uploaded" in pasted.content.decode()
    assert "identical to the latest version" in again.content.decode()
    assert empty.status_code == 200
    assert "Upload a file or paste the new text." in empty.content.decode()
    assert hours.versions.count() == 2


def test_an_upload_named_like_a_document_asks_and_then_makes_a_new_version(
    admin_browser, kb, hours, ingesting
):
    def upload(**extra):
        with ingesting():
            return admin_browser.post(
                _page("upload/"),
                {
                    "knowledge_base": kb.pk,
                    "files": [SimpleUploadedFile("hours.txt", NEW.encode(), "text/plain")],
                    "encoding": "",
                    **extra,
                },
                follow=True,
            )

    asked = upload()
    page = asked.content.decode()
    assert asked.status_code == 200 and not asked.redirect_chain
    assert "hours.txt matches" in page
    assert f'href="/admin/knowledge/document/{hours.pk}/new-version/"' in page
    assert "upload a new version of hours" in page
    assert hours.versions.count() == 1

    replaced = upload(new_versions="on")
    assert "1 document(s) added or updated" in replaced.content.decode()
    assert hours.versions.count() == 2
    assert Document.objects.filter(knowledge_base=kb).count() == 1


def test_pasted_text_becomes_a_document_and_a_taken_title_is_asked_about(
    admin_browser, kb, hours, ingesting
):
    def paste(title, text, **extra):
        with ingesting():
            return admin_browser.post(
                _page("paste/"),
                {
                    "knowledge_base": kb.pk,
                    "title": title,
                    "content": text,
                    "source_type": "text",
                    **extra,
                },
                follow=True,
            )

    assert admin_browser.get(_page("paste/"), {"knowledge_base": kb.pk}).status_code == 200
    added = paste("Parking", "Parking is free for patients.")
    parking = Document.objects.get(knowledge_base=kb, title="Parking")
    assert added.redirect_chain[-1][0] == _page(f"{parking.pk}/change/")
    assert "Parking is free for patients." in added.content.decode()

    refused = paste("HOURS", NEW)
    assert refused.status_code == 200 and not refused.redirect_chain
    assert "HOURS matches" in refused.content.decode()
    assert hours.versions.count() == 1

    versioned = paste("HOURS", NEW, new_version="on")
    assert versioned.redirect_chain[-1][0] == _page(f"{hours.pk}/change/")
    assert hours.versions.count() == 2


def test_a_viewer_sees_the_document_but_no_button_that_would_fail(viewer_browser, hours):
    page = viewer_browser.get(_page(f"{hours.pk}/change/")).content.decode()

    assert OLD in page and "Version history" in page
    assert "Upload new version" not in page and "Roll back" not in page
    assert viewer_browser.get(_page(f"{hours.pk}/new-version/")).status_code == 403
    assert viewer_browser.post(_page(f"{hours.pk}/new-version/"), {"content": NEW}).status_code == (
        403
    )
    assert viewer_browser.get(_page("paste/")).status_code == 403
    listing = viewer_browser.get(_page("")).content.decode()
    assert "Paste text" not in listing and "Upload documents" not in listing
    assert hours.versions.count() == 1


def test_the_search_playground_shows_relevance_what_matched_and_the_source(
    viewer_browser, kb, hours, ingesting
):
    with ingesting():
        services.document_add(knowledge_base=kb, title="Parking", content="Parking is free.")
        services.document_version_add(document=hours, content=NEW)

    response = viewer_browser.get(
        f"/admin/knowledge/knowledgebase/{kb.pk}/search/",
        {"query": "opening hours on saturday", "top_k": 5, "mode": "hybrid"},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "2 results" in page
    first = page.index("data-hit ")
    assert page.index(NEW) > first and page.index(NEW) < page.index("Parking is free.")
    assert 'data-relevance="100"' in page  # first by meaning and by keywords
    assert "Meaning: " in page and "% similar (#1)" in page
    assert "Keywords: all words found (#1)" in page
    assert "Keywords: not all words found" in page  # the parking passage
    assert "hours</a>" in page and "version 2 · chunk 1" in page


def test_the_document_form_refuses_another_documents_title(admin_browser, kb, hours, ingesting):
    with ingesting():
        parking = services.document_add(knowledge_base=kb, title="Parking", content="Free.")

    response = admin_browser.post(
        _page(f"{parking.pk}/change/"), {"title": "hours", "metadata": "{}"}
    )

    assert response.status_code == 200
    assert "Another document of this knowledge base is named" in response.content.decode()
    parking.refresh_from_db()
    assert parking.title == "Parking"
    renamed = admin_browser.post(
        _page(f"{parking.pk}/change/"), {"title": "Parking lot", "metadata": "{}"}
    )
    assert renamed.status_code == 302
