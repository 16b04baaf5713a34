"""A file that cannot be read is refused with the JSON error shape and a message saying what
to fix, before anything is written: the knowledge base is unchanged."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from knowledge import services
from knowledge.models import Chunk, Document, DocumentVersion
from tests.knowledge.helpers import chunk_texts, doc_url, kb_url
from tests.knowledge.test_extraction import make_pdf

pytestmark = pytest.mark.django_db

BAD_FILES = {
    "corrupt_pdf": ("manual.pdf", "application/pdf", make_pdf(["Hello"])[:60] + b"\x00junk" * 20),
    "bad_encoding": ("notes.txt", "text/plain", "Café opens at nine.".encode("latin-1")),
    "empty_document": ("empty.md", "text/markdown", b"  \n\n "),
    "unsupported_type": ("slides.pptx", "application/octet-stream", b"PK\x03\x04 not a doc"),
    "bad_csv_row": ("faq.csv", "text/csv", b"question,answer\nHow long is the warranty?,\n"),
}


@pytest.fixture
def admin_client(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "admin"))


def state(kb):
    return (
        Document.objects.filter(knowledge_base=kb).count(),
        DocumentVersion.objects.filter(document__knowledge_base=kb).count(),
        Chunk.objects.filter(knowledge_base=kb).count(),
    )


@pytest.mark.parametrize("code", list(BAD_FILES))
def test_a_bad_file_is_refused_with_a_clear_error_and_nothing_is_written(
    code, kb, admin_client, ingesting
):
    filename, content_type, data = BAD_FILES[code]
    before = state(kb)

    with ingesting():
        response = admin_client.post(
            kb_url(kb, "documents/"),
            {"file": SimpleUploadedFile(filename, data, content_type=content_type)},
            format="multipart",
        )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"] and "request_id" in error
    assert state(kb) == before


def test_a_wrong_encoding_names_the_byte_and_an_explicit_encoding_fixes_it(
    kb, admin_client, ingesting
):
    data = "Café opens at nine.".encode("latin-1")

    refused = admin_client.post(
        kb_url(kb, "documents/"),
        {"file": SimpleUploadedFile("notes.txt", data, content_type="text/plain")},
        format="multipart",
    )
    with ingesting():
        accepted = admin_client.post(
            kb_url(kb, "documents/"),
            {
                "file": SimpleUploadedFile("notes.txt", data, content_type="text/plain"),
                "encoding": "latin-1",
            },
            format="multipart",
        )

    assert "UTF-8" in refused.json()["error"]["message"]
    assert refused.json()["error"]["details"]["position"] == 3
    assert accepted.status_code == 201
    assert chunk_texts(Document.objects.get(pk=accepted.json()["id"])) == ["Café opens at nine."]


def test_a_bad_file_as_an_update_leaves_the_document_as_it_was(kb, admin_client, ingesting):
    with ingesting():
        document = services.document_add(knowledge_base=kb, title="Manual", content="Anvils.")

    response = admin_client.patch(
        doc_url(document),
        {
            "file": SimpleUploadedFile(
                "manual.pdf", b"%PDF-1.4 broken", content_type="application/pdf"
            )
        },
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "corrupt_pdf"
    assert document.versions.count() == 1
    assert chunk_texts(document) == ["Anvils."]


def test_a_document_needs_content_or_a_file(kb, admin_client):
    response = admin_client.post(kb_url(kb, "documents/"), {"title": "Nothing"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"]["content"]


@pytest.mark.parametrize("encoding", ["idna", "unicode_escape"])
def test_an_encoding_that_is_not_a_character_set_is_refused_naming_the_allowed_ones(
    encoding, kb, admin_client
):
    before = state(kb)

    response = admin_client.post(
        kb_url(kb, "documents/"),
        {
            "file": SimpleUploadedFile("notes.txt", b"hello \\x00 world", "text/plain"),
            "encoding": encoding,
        },
        format="multipart",
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_encoding"
    assert "utf-8, utf-8-sig, utf-16" in error["message"]
    assert "latin-1" in error["details"]["allowed"]
    assert state(kb) == before


@pytest.mark.parametrize(
    ("filename", "content_type", "data"),
    [
        ("hours.txt", "text/plain", b"We open\x00 at nine."),
        ("faq.csv", "text/csv", b"question,answer\nWhen do you open?,At\x00 nine.\n"),
        ("hours.pdf", "application/pdf", make_pdf(["We open\x00 at nine."])),
    ],
)
def test_nul_characters_in_an_uploaded_file_are_dropped(
    filename, content_type, data, kb, admin_client, ingesting
):
    with ingesting():
        response = admin_client.post(
            kb_url(kb, "documents/"),
            {"file": SimpleUploadedFile(filename, data, content_type=content_type)},
            format="multipart",
        )

    assert response.status_code == 201, response.json()
    version = DocumentVersion.objects.get(document_id=response.json()["id"])
    assert "\x00" not in version.content and "nine" in version.content
    assert all("\x00" not in text for text in chunk_texts(version.document))


def test_html_nested_twenty_thousand_elements_deep_is_added(kb, admin_client):
    data = ("<div>" * 20_000 + "Deep text" + "</div>" * 20_000).encode()

    response = admin_client.post(
        kb_url(kb, "documents/"),
        {"file": SimpleUploadedFile("deep.html", data, "text/html")},
        format="multipart",
    )

    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    "metadata",
    ['{"team": "a\\u0000b"}', '{"a":' * 5_000 + "1" + "}" * 5_000, "[1, 2]"],
    ids=["escaped-nul", "deep", "not-an-object"],
)
def test_metadata_sent_as_a_form_field_follows_the_json_rules(metadata, kb, admin_client):
    before = state(kb)

    response = admin_client.post(
        kb_url(kb, "documents/"),
        {
            "file": SimpleUploadedFile("hours.txt", b"We open at nine.", "text/plain"),
            "metadata": metadata,
        },
        format="multipart",
    )

    assert response.status_code == 400, response.json()
    assert set(response.json()["error"]["details"]["fields"]) == {"metadata"}
    assert state(kb) == before


def test_metadata_has_a_size_limit(kb, admin_client):
    response = admin_client.post(
        kb_url(kb, "documents/"),
        {"title": "Hours", "content": "Open.", "metadata": {"notes": "x" * 20_000}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"]["metadata"] == [
        "At most 16,384 characters of JSON."
    ]
