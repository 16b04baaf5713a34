"""The knowledge pages in a real browser: an operator uploads a new version of the demo's
document from its page, sees the new text become the searchable content, and asks the search
playground a question whose answer only the new version holds (relevance bar, what matched,
the document and version). At 1280x800 and at 390 px wide, with no console errors."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from calls.demo import DOCUMENT_TEXT, DOCUMENT_TITLE, KNOWLEDGE_BASE_NAME
from knowledge.services import document_add, knowledge_base_create
from tests.browser.conftest import SCREENSHOTS

# Real embeddings: the test process and the live server each load the local model and embed
# as documents commit, which on a loaded 2-core machine can pass the default two minutes.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("committed_db"),
    pytest.mark.timeout(300),
]

INGESTION_WAIT_MS = 120_000
NEW_TEXT = DOCUMENT_TEXT.replace(
    "Saturday 9:00 to 13:00", "Saturday 9:00 to 15:00, and the first Sunday of the month"
)


@pytest.fixture
def demo_document(alpha, settings):
    """The demo's knowledge base and document (as `make run` seeds them), ingested."""
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the ingestion runs as the document commits
    with tenant_context(alpha):
        knowledge_base = knowledge_base_create(name=KNOWLEDGE_BASE_NAME)
        return document_add(
            knowledge_base=knowledge_base,
            title=DOCUMENT_TITLE,
            content=DOCUMENT_TEXT,
            source_type="text",
        )


def test_a_new_version_of_the_demo_document_is_what_the_playground_finds(admin_page, demo_document):
    page = admin_page
    assert "Sunday of the month" not in DOCUMENT_TEXT and "Sunday of the month" in NEW_TEXT

    page.goto(f"/admin/knowledge/document/{demo_document.pk}/change/")
    expect(page.locator("#kb-content-title")).to_have_text("Content of version 1 (searchable)")
    expect(page.locator("[data-document-content]")).to_contain_text("Saturday 9:00 to 13:00")
    expect(page.locator("[data-chunks] li").first).to_contain_text("Chunk 1 · version 1")

    page.get_by_role("link", name="Upload new version").click()
    expect(page.get_by_role("button", name="Upload version 2")).to_be_visible()
    page.locator("input[name=file]").set_input_files(
        files=[{"name": "hours.txt", "mimeType": "text/plain", "buffer": NEW_TEXT.encode()}]
    )
    # The live server ingests as it commits, loading the embedding model the first time:
    # seconds on a loaded machine, hence the longer wait.
    page.get_by_role("button", name="Upload version 2").click(timeout=INGESTION_WAIT_MS)

    # Back on the document page, version 2 already searchable.
    expect(page.get_by_text("Version 2 uploaded")).to_be_visible()
    expect(page.locator("#kb-content-title")).to_have_text("Content of version 2 (searchable)")
    expect(page.locator("[data-document-content]")).to_contain_text("first Sunday of the month")
    expect(page.locator('[data-versions] tr[data-version="2"]')).to_contain_text("(searchable)")
    expect(page.locator('[data-versions] tr[data-version="2"]')).to_contain_text("hours.txt")
    page.screenshot(path=str(SCREENSHOTS / "knowledge_document_page.png"), full_page=True)

    page.get_by_role("link", name="Search playground").click()
    page.get_by_label("Question").fill("are you open on sunday")
    page.get_by_role("button", name="Search").click()

    first = page.locator("[data-hit]").first
    expect(first).to_contain_text("first Sunday of the month")
    expect(first).to_contain_text(f"{DOCUMENT_TITLE} · version 2")
    expect(first.locator('[data-match="meaning"]')).to_contain_text("% similar")
    expect(first.locator('[role="meter"]')).to_be_visible()
    relevance = int(first.get_attribute("data-relevance") or "0")
    assert 0 < relevance <= 100
    # Only the new version is searched: no hit comes from version 1.
    assert "version 1 ·" not in page.locator("[data-hits]").inner_text()

    # Usable on a phone: the results fit the width (the page does not scroll sideways).
    page.set_viewport_size({"width": 390, "height": 800})
    expect(first).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390 + 1
    page.screenshot(path=str(SCREENSHOTS / "knowledge_playground_390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def test_an_upload_named_like_the_demo_document_offers_a_new_version(admin_page, demo_document):
    page = admin_page
    page.goto(
        f"/admin/knowledge/document/?knowledge_base__id__exact={demo_document.knowledge_base_id}"
    )
    page.get_by_role("link", name="Paste text").click()
    page.get_by_label("Title", exact=True).fill(DOCUMENT_TITLE.upper())
    page.get_by_label("Text", exact=True).fill(NEW_TEXT)
    page.get_by_role("button", name="Add document").click()

    # Refused with nothing added: the page names the document and offers a new version.
    conflicts = page.locator("[data-conflicts]")
    expect(conflicts).to_contain_text(f"{DOCUMENT_TITLE.upper()} matches {DOCUMENT_TITLE}")
    page.set_viewport_size({"width": 390, "height": 800})
    expect(conflicts).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390 + 1
    page.screenshot(path=str(SCREENSHOTS / "knowledge_paste_conflict_390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})

    conflicts.get_by_role("link", name=f"upload a new version of {DOCUMENT_TITLE}").click()
    expect(page.get_by_role("button", name="Upload version 2")).to_be_visible()
    page.get_by_label("Or paste the new text").fill(NEW_TEXT)
    page.get_by_role("button", name="Upload version 2").click(timeout=INGESTION_WAIT_MS)
    expect(page.locator("#kb-content-title")).to_have_text("Content of version 2 (searchable)")
