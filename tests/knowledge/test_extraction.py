from __future__ import annotations

import io

import pypdf
import pytest

from knowledge.exceptions import ExtractionError
from knowledge.extraction import (
    TEXT_ENCODINGS,
    QAPair,
    Section,
    SourceType,
    decode_text,
    detect_source_type,
    extract_document,
)


def make_pdf(pages: list[str]) -> bytes:
    """A real, minimal PDF: one Helvetica text line per input line, correct xref table."""

    def escape(line: str) -> str:
        return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] /Count {len(pages)} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for page_id, text in zip(page_ids, pages, strict=True):
        lines = " ".join(f"({escape(line)}) Tj T*" for line in text.split("\n"))
        stream = f"BT /F1 12 Tf 14 TL 72 720 Td {lines} ET"
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {page_id + 1} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")

    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def rewrite_pdf(data: bytes, *, bookmarks=(), password: str = "") -> bytes:
    """Add bookmarks ``(title, page, parent_index | None)`` and/or encryption with pypdf."""
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(data))
    added = []
    for title, page, parent in bookmarks:
        parent_item = None if parent is None else added[parent]
        added.append(writer.add_outline_item(title=title, page_number=page, parent=parent_item))
    if password:
        writer.encrypt(user_password=password, owner_password=password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def extraction_error(**kwargs) -> ExtractionError:
    with pytest.raises(ExtractionError) as info:
        extract_document(**kwargs)
    return info.value


# --- type detection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "content_type", "data", "expected"),
    [
        ("Handbook.PDF", "", b"", SourceType.PDF),
        ("faq.csv", "application/octet-stream", b"", SourceType.CSV),
        ("notes.md", "text/plain", b"", SourceType.MARKDOWN),
        ("", "text/html; charset=utf-8", b"", SourceType.HTML),
        ("", "application/vnd.ms-excel", b"", SourceType.CSV),
        ("upload", "application/octet-stream", b"%PDF-1.7\n...", SourceType.PDF),
        ("readme.txt", "", b"", SourceType.TEXT),
    ],
)
def test_source_type_is_detected_from_extension_then_content_type_then_magic(
    filename, content_type, data, expected
):
    assert detect_source_type(filename=filename, content_type=content_type, data=data) is expected


def test_an_undetectable_type_is_reported_with_the_supported_ones():
    error = extraction_error(data=b"PK\x03\x04", filename="slides.pptx")

    assert error.code == "unsupported_type"
    assert "slides.pptx" in error.message
    assert "markdown" in error.message and "pdf" in error.message


def test_an_unknown_explicit_source_type_is_rejected():
    assert extraction_error(data=b"x", source_type="docx").code == "unsupported_type"


# --- text, encodings, empty documents ------------------------------------------------------------


def test_plain_text_is_one_section_with_blank_lines_and_extra_spaces_removed():
    document = extract_document(
        data=b"Opening hours:\r\n\r\n\r\nMon  -  Fri   9 to 5\n", filename="a.txt"
    )

    assert document.sections == (Section(heading_path=(), text="Opening hours:\nMon - Fri 9 to 5"),)
    assert document.qa_pairs == ()


def test_latin1_bytes_are_rejected_not_guessed():
    error = extraction_error(data="Caf\xe9 opens at 9".encode("latin-1"), source_type="text")

    assert error.code == "bad_encoding"
    assert error.details == {"encoding": "utf-8", "position": 3}
    assert "0xe9" in error.message and "UTF-8" in error.message


def test_an_explicit_encoding_is_honoured():
    document = extract_document(
        data="Caf\xe9 opens at 9".encode("latin-1"), source_type="text", encoding="latin-1"
    )

    assert document.sections[0].text == "Café opens at 9"


def test_a_utf8_bom_is_dropped():
    document = extract_document(data="\ufeffCafé".encode(), source_type="text")

    assert document.sections[0].text == "Café"


def test_an_unknown_encoding_name_is_reported():
    assert extraction_error(data=b"x", source_type="text", encoding="klingon").code == (
        "unknown_encoding"
    )


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"", "a.txt"),
        (b" \n\t\r\n", "a.md"),
        (
            b"<html><head><script>var a = 1;</script></head><body><nav>Home</nav></body></html>",
            "a.html",
        ),
        (b"# Title only\n\n## And a subtitle\n", "a.md"),
    ],
)
def test_a_document_without_text_is_empty(data, filename):
    assert extraction_error(data=data, filename=filename).code == "empty_document"


# --- Markdown ------------------------------------------------------------------------------------

MARKDOWN = b"""# Returns

You can return **unworn** items within [30 days](https://shop.example/returns).

## Warranty

- Two years on parts.
- One year on labour.

```
# not a heading: code
```

Exchanges
---------
Exchanges are free.

# Shipping
We ship worldwide.
"""


def test_markdown_headings_become_section_paths():
    document = extract_document(data=MARKDOWN, filename="policies.md")

    assert document.source_type is SourceType.MARKDOWN
    assert document.sections == (
        Section(("Returns",), "You can return unworn items within 30 days."),
        Section(
            ("Returns", "Warranty"),
            "- Two years on parts.\n- One year on labour.\n# not a heading: code",
        ),
        Section(("Returns", "Exchanges"), "Exchanges are free."),
        Section(("Shipping",), "We ship worldwide."),
    )


# --- HTML ----------------------------------------------------------------------------------------

HTML = b"""<!doctype html>
<html><head><title>Shop</title><style>body { color: red }</style></head>
<body>
  <header><a href="/">Logo</a><nav><a>Home</a> <a>Cart</a></nav></header>
  <div role="navigation">Breadcrumbs</div>
  <main>
    <article>
      <header><h1>Returns</h1></header>
      <p>Return within   30 days.<br>Keep the receipt.</p>
      <!-- editor note: do not index -->
      <h2>Warranty</h2>
      <table><tr><th>Part</th><th>Years</th></tr><tr><td>Motor</td><td>2</td></tr></table>
      <script>track("returns")</script>
      <form>Subscribe: <input name="email"><button>Go</button></form>
      <h3>Claims</h3>
      <ul><li>Call us</li><li>Email <b>support</b></li></ul>
      <h2>Refunds</h2>
      <p>Refunds take 5 days.</p>
    </article>
    <aside>Related: socks</aside>
  </main>
  <footer>&copy; 2026 Shop</footer>
</body></html>"""


def test_html_keeps_headings_and_drops_page_furniture():
    document = extract_document(data=HTML, content_type="text/html")

    assert document.sections == (
        Section(("Returns",), "Return within 30 days.\nKeep the receipt."),
        Section(("Returns", "Warranty"), "Part Years\nMotor 2"),
        Section(("Returns", "Warranty", "Claims"), "- Call us\n- Email support"),
        Section(("Returns", "Refunds"), "Refunds take 5 days."),
    )
    text = " ".join(section.text for section in document.sections)
    for furniture in (
        "Logo",
        "Home",
        "Breadcrumbs",
        "track",
        "Subscribe",
        "socks",
        "2026",
        "editor",
    ):
        assert furniture not in text


def test_an_html_fragment_without_a_body_is_extracted_without_markup_strings():
    data = b"<!doctype html><h2>Hours</h2><!-- draft --><p>9 to 5</p><![CDATA[raw]]>"

    document = extract_document(data=data, filename="snippet.html")

    assert document.sections == (Section(("Hours",), "9 to 5"),)


# --- PDF -----------------------------------------------------------------------------------------


def test_pdf_text_is_extracted_from_every_page():
    data = make_pdf(["Welcome to Acme.\nWe sell anvils.", "Anvils ship in 3 days."])

    document = extract_document(data=data, filename="acme.pdf")

    assert document.source_type is SourceType.PDF
    assert document.sections == (
        Section((), "Welcome to Acme.\nWe sell anvils.\nAnvils ship in 3 days."),
    )


def test_pdf_bookmarks_become_heading_paths_of_the_pages_they_cover():
    data = rewrite_pdf(
        make_pdf(["Intro text.", "Return within 30 days.", "Two year warranty.", "More warranty."]),
        bookmarks=[("Returns", 1, None), ("Warranty", 2, 0)],
    )

    document = extract_document(data=data, filename="manual.pdf")

    assert document.sections == (
        Section((), "Intro text."),
        Section(("Returns",), "Return within 30 days."),
        Section(("Returns", "Warranty"), "Two year warranty.\nMore warranty."),
    )


def test_a_corrupt_pdf_is_reported():
    data = make_pdf(["Hello"])[:60] + b"\x00garbage" * 10

    error = extraction_error(data=data, filename="broken.pdf")

    assert error.code == "corrupt_pdf"
    assert error.message.startswith("The PDF cannot be read")


def test_a_password_protected_pdf_is_reported():
    data = rewrite_pdf(make_pdf(["Secret plans."]), password="hunter2")

    assert extraction_error(data=data, filename="secret.pdf").code == "encrypted_pdf"


def test_a_pdf_without_a_text_layer_is_empty():
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)

    error = extraction_error(data=buffer.getvalue(), filename="scan.pdf")

    assert error.code == "empty_document"
    assert "OCR" in error.message


# --- CSV of questions and answers ----------------------------------------------------------------


def test_csv_question_and_answer_columns_are_found_by_header_name():
    data = b"id;Answer;Question\n1;We open at 9.;When do you open?\n2;Yes;Do you deliver?\n"

    document = extract_document(data=data, filename="faq.csv")

    assert document.source_type is SourceType.CSV
    assert document.sections == ()
    assert document.qa_pairs == (
        QAPair("When do you open?", "We open at 9."),
        QAPair("Do you deliver?", "Yes"),
    )


def test_csv_without_a_known_header_uses_the_first_two_columns_from_the_first_row():
    data = b"Opening hours?,9 to 5,ignored\n\nParking?,Behind the shop\n"

    document = extract_document(data=data, source_type="csv")

    assert document.qa_pairs == (
        QAPair("Opening hours?", "9 to 5"),
        QAPair("Parking?", "Behind the shop"),
    )


def test_a_csv_row_without_an_answer_is_reported_with_its_line_number():
    # The quoted answer on line 3 spans two lines, so the bad row starts on line 5.
    data = b'Q,A\nFirst?,Yes\nSecond?,"Two\nlines"\n,Orphan answer\n'

    error = extraction_error(data=data, filename="faq.csv")

    assert error.code == "bad_csv_row"
    assert error.details == {"line": 5}
    assert error.message.startswith("Line 5: the question is empty")


def test_a_csv_with_only_a_header_has_no_rows():
    assert extraction_error(data=b"question,answer\n", filename="faq.csv").code == "no_qa_rows"


# --- hostile input: encodings, NUL characters, nesting --------------------------------------------


@pytest.mark.parametrize("encoding", ["idna", "unicode_escape", "punycode", "rot13", "base64"])
def test_only_real_text_encodings_may_be_named(encoding):
    error = extraction_error(data=b"hello \\x00 world", source_type="text", encoding=encoding)

    assert error.code == "unknown_encoding"
    assert "utf-8" in error.message and "latin-1" in error.message
    assert error.details["allowed"] == list(TEXT_ENCODINGS)


@pytest.mark.parametrize(
    ("encoding", "data", "text"),
    [
        ("latin1", "Caf\xe9".encode("latin-1"), "Café"),
        ("ISO-8859-1", "Caf\xe9".encode("latin-1"), "Café"),
        ("UTF8", "Café".encode(), "Café"),
        ("utf-16", "Café".encode("utf-16"), "Café"),
        ("windows-1252", "\u20ac 5".encode("cp1252"), "€ 5"),
    ],
)
def test_a_text_encoding_may_be_named_by_any_of_its_aliases(encoding, data, text):
    document = extract_document(data=data, source_type="text", encoding=encoding)

    assert document.sections[0].text == text


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"Open\x00 9 to 5", "hours.txt"),
        (b"question,answer\nOpen?\x00,9 to 5\n", "faq.csv"),
        (b"<h1>Ho\x00urs</h1><p>Open 9 to 5</p>", "hours.html"),
        ("Open\x00 9 to 5".encode("utf-16"), "hours.txt"),
    ],
)
def test_nul_characters_are_dropped_from_decoded_text(data, filename):
    encoding = "utf-16" if data.startswith(b"\xff\xfe") else None

    document = extract_document(data=data, filename=filename, encoding=encoding)

    assert "\x00" not in repr(document)
    assert "\x00" not in decode_text(data, encoding=encoding)


def test_nul_characters_are_dropped_from_pdf_text():
    document = extract_document(data=make_pdf(["Hello\x00World"]), filename="a.pdf")

    assert document.sections[0].text == "HelloWorld"


def test_html_nested_twenty_thousand_elements_deep_is_read():
    data = ("<div>" * 20_000 + "Deep text" + "</div>" * 20_000).encode()

    document = extract_document(data=data, filename="deep.html")

    assert document.sections == (Section(heading_path=(), text="Deep text"),)


def test_deep_unclosed_list_items_keep_their_order():
    data = ("<ul>" + "<li>item" * 5_000 + "<h2>After</h2><p>tail</p>").encode()

    document = extract_document(data=data, filename="deep.html")

    assert document.sections[0].text.count("- item") == 5_000
    assert document.sections[-1].text == "tail"
