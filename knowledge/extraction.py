"""Turn an uploaded document into plain text the chunker can cut.

Every source type ends up as a list of :class:`Section` s: a heading path (``("Returns",
"Warranty")``) and the plain text under it, so the chunker never merges text from two
headings and can prefix each chunk with where it came from. A Q/A CSV is the exception: it
yields :class:`QAPair` s, because each pair must stay one chunk.

Markdown is rendered to HTML and goes through the HTML extractor, so both formats share one
notion of headings, paragraphs and list items.

Text is decoded strictly (UTF-8, a BOM is allowed) unless the caller names the encoding:
guessing would store mojibake that nobody notices until an agent reads it out on a call. Only
real character sets may be named (``TEXT_ENCODINGS``). NUL characters are dropped wherever text
enters (``decode_text``, the PDF reader's output): PostgreSQL cannot store them, and they are
never content. The HTML walk is iterative, so a page nested thousands of tags deep is read like
any other.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any, NamedTuple

import bs4
import pypdf
from bs4.element import PreformattedString
from markdown_it import MarkdownIt

from knowledge.exceptions import ExtractionError, KnowledgeErrorCode

logger = logging.getLogger(__name__)


class SourceType(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    HTML = "html"
    PDF = "pdf"
    CSV = "csv"


@dataclass(frozen=True, slots=True)
class Section:
    """Plain text under one heading. Lines are separated by ``\\n``; never empty."""

    heading_path: tuple[str, ...]
    text: str


class QAPair(NamedTuple):
    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class ExtractedDocument:
    """Either ``sections`` (prose) or ``qa_pairs`` (a Q/A CSV) is non-empty, never both."""

    source_type: SourceType
    sections: tuple[Section, ...] = ()
    qa_pairs: tuple[QAPair, ...] = ()


def extract_document(
    *,
    data: bytes,
    source_type: SourceType | str | None = None,
    filename: str = "",
    content_type: str = "",
    encoding: str | None = None,
) -> ExtractedDocument:
    """Extract ``data``; the type is detected from the filename/content type when not given.

    Raises :class:`ExtractionError` for an unknown type, undecodable text, a corrupt or
    encrypted PDF, a bad CSV row, or a document with no text at all.
    """
    if source_type:
        try:
            kind = SourceType(source_type)
        except ValueError:
            raise _unsupported(f"Unknown source type {source_type!r}.") from None
    else:
        kind = detect_source_type(filename=filename, content_type=content_type, data=data)
    if not data.strip():
        raise ExtractionError("The document is empty.", code=KnowledgeErrorCode.EMPTY_DOCUMENT)

    if kind is SourceType.PDF:
        return _document(kind, sections=_pdf_sections(data))
    text = decode_text(data, encoding=encoding)
    if kind is SourceType.CSV:
        return ExtractedDocument(source_type=kind, qa_pairs=_csv_qa_pairs(text))
    if kind is SourceType.HTML:
        return _document(kind, sections=_html_sections(text))
    if kind is SourceType.MARKDOWN:
        return _document(kind, sections=_html_sections(_markdown.render(text)))
    return _document(kind, sections=[Section(heading_path=(), text=_clean_lines(text))])


_EXTENSIONS = {
    ".txt": SourceType.TEXT,
    ".text": SourceType.TEXT,
    ".md": SourceType.MARKDOWN,
    ".markdown": SourceType.MARKDOWN,
    ".html": SourceType.HTML,
    ".htm": SourceType.HTML,
    ".pdf": SourceType.PDF,
    ".csv": SourceType.CSV,
}
_CONTENT_TYPES = {
    "text/plain": SourceType.TEXT,
    "text/markdown": SourceType.MARKDOWN,
    "text/x-markdown": SourceType.MARKDOWN,
    "text/html": SourceType.HTML,
    "application/xhtml+xml": SourceType.HTML,
    "application/pdf": SourceType.PDF,
    "text/csv": SourceType.CSV,
    # What browsers on Windows send for a .csv when Excel is installed.
    "application/vnd.ms-excel": SourceType.CSV,
}


def detect_source_type(
    *, filename: str = "", content_type: str = "", data: bytes = b""
) -> SourceType:
    """The extension wins over the content type: browsers often send octet-stream or guess."""
    suffix = PurePosixPath(filename.lower()).suffix
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    mime = content_type.split(";")[0].strip().lower()
    if mime in _CONTENT_TYPES:
        return _CONTENT_TYPES[mime]
    if data.startswith(b"%PDF-"):
        return SourceType.PDF
    name = repr(filename) if filename else "the document"
    raise _unsupported(f"Cannot tell the type of {name} ({content_type or 'no content type'}).")


def _unsupported(message: str) -> ExtractionError:
    allowed = ", ".join(t.value for t in SourceType)
    return ExtractionError(
        f"{message} Supported types: {allowed}.", code=KnowledgeErrorCode.UNSUPPORTED_TYPE
    )


def _document(kind: SourceType, *, sections: list[Section]) -> ExtractedDocument:
    sections = [s for s in sections if s.text]
    if not sections:
        raise ExtractionError(
            "The document contains no extractable text.", code=KnowledgeErrorCode.EMPTY_DOCUMENT
        )
    return ExtractedDocument(source_type=kind, sections=tuple(sections))


# The encodings an upload may name (aliases such as "latin1" or "UTF8" are accepted too). Python
# also registers codecs that are transformations rather than character sets (idna, punycode,
# unicode_escape, rot13...): they "decode" any bytes into text nobody wrote, NULs included.
# fmt: off
TEXT_ENCODINGS: tuple[str, ...] = (
    "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "ascii", "latin-1",
    "iso-8859-15", "cp1252", "cp1250", "cp1251", "mac-roman", "koi8-r", "shift_jis", "euc-jp",
    "gb18030", "big5", "euc-kr",
)
# fmt: on
_CODECS = {codecs.lookup(name).name: name for name in TEXT_ENCODINGS}


def decode_text(data: bytes, *, encoding: str | None = None) -> str:
    """``data`` as text, in ``encoding`` (one of TEXT_ENCODINGS; UTF-8 with or without a BOM
    when None), without NUL characters. Raises ExtractionError for an encoding not on the list
    and for bytes that are not valid in it."""
    # utf-8-sig reads plain UTF-8 too, and drops the BOM Excel and Notepad write.
    codec = _text_codec(encoding) if encoding else "utf-8-sig"
    try:
        return _without_nul(data.decode(codec))
    except UnicodeDecodeError as exc:
        raise ExtractionError(
            f"The document is not valid {encoding or 'UTF-8'} text (byte 0x{data[exc.start]:02x} "
            f"at position {exc.start}). Save it as UTF-8, or choose its encoding when uploading.",
            code=KnowledgeErrorCode.BAD_ENCODING,
            details={"encoding": encoding or "utf-8", "position": exc.start},
        ) from None


def _text_codec(encoding: str) -> str:
    try:
        canonical = codecs.lookup(encoding).name
    except (LookupError, ValueError):  # ValueError: a name with a NUL in it
        canonical = None
    if canonical not in _CODECS:
        raise ExtractionError(
            f"Unknown text encoding {encoding!r}; use one of: {', '.join(TEXT_ENCODINGS)}.",
            code=KnowledgeErrorCode.UNKNOWN_ENCODING,
            details={"encoding": encoding, "allowed": list(TEXT_ENCODINGS)},
        )
    return _CODECS[canonical]


def _without_nul(text: str) -> str:
    return text.replace("\x00", "")


_SPACES = re.compile(r"[^\S\n]+")


def _clean_lines(text: str) -> str:
    """Collapse runs of spaces, drop blank lines: the chunker only needs line boundaries."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


# --- HTML and Markdown -------------------------------------------------------------------------

# Page furniture that would otherwise end up in every chunk of every page of a site.
# fmt: off
_BOILERPLATE_TAGS = [
    "script", "style", "noscript", "template", "nav", "aside", "form", "iframe", "svg",
    "button", "select", "head",
]
_BOILERPLATE_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {
    "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "thead", "tbody", "pre",
    "blockquote", "section", "article", "main", "br", "hr", "header", "footer", "figure",
    "figcaption", "details", "summary", "address",
}
# fmt: on
_CELLS = {"td", "th"}

_markdown = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _html_sections(html: str) -> list[Section]:
    soup = bs4.BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_BOILERPLATE_TAGS):
        tag.decompose()
    for tag in soup.find_all(role=True):
        if not tag.decomposed and tag.get("role") in _BOILERPLATE_ROLES:
            tag.decompose()
    # A site's <header>/<footer> is furniture, but an article's own header holds its title.
    for tag in soup.find_all(["header", "footer"]):
        if not tag.decomposed and tag.find_parent(["article", "main", "section"]) is None:
            tag.decompose()

    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    parts: list[str] = []

    def flush() -> None:
        text = _clean_lines("".join(parts))
        if text:
            sections.append(Section(heading_path=tuple(t for _, t in path), text=text))
        parts.clear()

    for kind, value in _html_walk(soup.body or soup):
        if kind == "heading":
            flush()
            level, title = value
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, title))
        else:
            parts.append(value)
    flush()
    return sections


class _BlockEnd(NamedTuple):
    """Queued after a block's children: the line break that closes it."""

    text: str


def _html_walk(node: bs4.Tag) -> Iterator[tuple[str, Any]]:
    """Yield ("heading", (level, title)) and ("text", str) in document order.

    Depth-first with an explicit stack of child iterators rather than recursion: the nesting
    depth is the uploader's choice, and 1,000 levels would exhaust Python's stack."""
    stack: list[Iterator[Any]] = [iter(node.children)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
        elif isinstance(child, _BlockEnd):
            yield "text", child.text
        # Comments, doctypes, CDATA and processing instructions are markup, not page text.
        elif isinstance(child, PreformattedString):
            continue
        elif isinstance(child, bs4.NavigableString):
            yield "text", str(child)
        elif not isinstance(child, bs4.Tag):
            continue  # a node's children are strings and tags: nothing else to find here
        elif child.name in _HEADINGS:
            title = _SPACES.sub(" ", child.get_text(" ", strip=True).replace("\n", " "))
            if title:
                yield "heading", (_HEADINGS[child.name], title)
        elif child.name == "pre":
            yield "text", "\n" + child.get_text() + "\n"
        elif child.name in _BLOCKS:
            yield "text", "\n- " if child.name == "li" else "\n"
            stack.append(itertools.chain(child.children, [_BlockEnd("\n")]))
        else:
            if child.name in _CELLS:
                yield "text", " "
            elif child.name == "img" and child.get("alt"):
                yield "text", f" {child['alt']} "
            stack.append(iter(child.children))


# --- PDF ---------------------------------------------------------------------------------------


def _pdf_sections(data: bytes) -> list[Section]:
    # pypdf raises many exception types (PdfReadError, ValueError, KeyError...) on malformed
    # files and logs warnings for recoverable ones; a user only needs to know it is corrupt.
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError(
                "The PDF is password-protected. Upload an unprotected copy.",
                code=KnowledgeErrorCode.ENCRYPTED_PDF,
            )
        pages = [_without_nul(page.extract_text() or "") for page in reader.pages]
        headings = _pdf_page_headings(reader)
    except ExtractionError:
        raise
    except Exception as exc:
        logger.info("unreadable PDF", exc_info=True)
        raise ExtractionError(
            f"The PDF cannot be read: {exc}", code=KnowledgeErrorCode.CORRUPT_PDF
        ) from None

    if not any(text.strip() for text in pages):
        raise ExtractionError(
            "The PDF contains no extractable text (a scanned PDF needs OCR before upload).",
            code=KnowledgeErrorCode.EMPTY_DOCUMENT,
        )
    # Consecutive pages under the same bookmark form one section: sentences run across pages.
    sections: list[Section] = []
    for number, text in enumerate(pages):
        heading_path = headings.get(number, ())
        text = _clean_lines(text)
        if sections and sections[-1].heading_path == heading_path:
            text = sections.pop().text + "\n" + text
        sections.append(Section(heading_path=heading_path, text=text))
    return sections


def _pdf_page_headings(reader: pypdf.PdfReader) -> dict[int, tuple[str, ...]]:
    """Map each page to the bookmark path in force on it (the last one starting on or before
    it). Bookmarks point at pages, not lines, so text above a mid-page bookmark is attributed
    to it: good enough to make headings searchable."""
    starts: dict[int, tuple[str, ...]] = {}

    def visit(items: list[Any], parents: tuple[str, ...]) -> None:
        # pypdf nests an item's children as a list right after the item.
        last = parents
        for item in items:
            if isinstance(item, list):
                visit(item, last)
                continue
            last = (*parents, _without_nul(str(item.title)).strip())
            page = reader.get_destination_page_number(item)
            if page is not None:
                starts[page] = last  # outline order: the last entry on a page wins

    visit(reader.outline, ())
    headings: dict[int, tuple[str, ...]] = {}
    current: tuple[str, ...] = ()
    for page in range(len(reader.pages)):
        current = headings[page] = starts.get(page, current)
    return headings


# --- CSV of questions and answers ---------------------------------------------------------------

_QUESTION_HEADERS = {"question", "questions", "q", "query"}
_ANSWER_HEADERS = {"answer", "answers", "a", "response"}


def _csv_qa_pairs(text: str) -> tuple[QAPair, ...]:
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    rows = _csv_rows(reader)

    first_line, header = next(((n, row) for n, row in rows if any(c.strip() for c in row)), (0, []))
    names = [re.sub(r"[^a-z]", "", cell.lower()) for cell in header]
    q_col = next((i for i, n in enumerate(names) if n in _QUESTION_HEADERS), None)
    a_col = next((i for i, n in enumerate(names) if n in _ANSWER_HEADERS), None)
    if q_col is None or a_col is None:
        # No recognisable header: the first two columns, and the first row is data.
        q_col, a_col = 0, 1
        rows = itertools.chain([(first_line, header)], rows)

    pairs: list[QAPair] = []
    for line, row in rows:
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        question = cells[q_col] if q_col < len(cells) else ""
        answer = cells[a_col] if a_col < len(cells) else ""
        if not question or not answer:
            missing = "question" if not question else "answer"
            raise ExtractionError(
                f"Line {line}: the {missing} is empty. Every row needs a question and an answer.",
                code=KnowledgeErrorCode.BAD_CSV_ROW,
                details={"line": line},
            )
        pairs.append(QAPair(question=question, answer=answer))
    if not pairs:
        raise ExtractionError(
            "The CSV has no question/answer rows.",
            code=KnowledgeErrorCode.NO_QA_ROWS,
            details={"line": first_line},
        )
    return tuple(pairs)


def _csv_rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Yield (line where the row starts, cells); a quoted cell may span several lines."""
    line = 1
    try:
        for row in reader:
            yield line, row
            line = reader.line_num + 1
    except csv.Error as exc:
        raise ExtractionError(
            f"Line {line}: {exc}.", code=KnowledgeErrorCode.BAD_CSV_ROW, details={"line": line}
        ) from None


# --- storage -----------------------------------------------------------------------------------


def extracted_to_json(document: ExtractedDocument) -> dict[str, Any]:
    """A JSON-safe form of ``document`` that :func:`extracted_from_json` restores exactly."""
    return {
        "source_type": document.source_type.value,
        "sections": [[list(s.heading_path), s.text] for s in document.sections],
        "qa_pairs": [[pair.question, pair.answer] for pair in document.qa_pairs],
    }


def extracted_from_json(data: dict[str, Any]) -> ExtractedDocument:
    return ExtractedDocument(
        source_type=SourceType(data["source_type"]),
        sections=tuple(
            Section(heading_path=tuple(path), text=text) for path, text in data["sections"]
        ),
        qa_pairs=tuple(QAPair(question=q, answer=a) for q, a in data["qa_pairs"]),
    )


def extracted_text(document: ExtractedDocument) -> str:
    """The document as readable plain text: each section under its heading path, each Q/A pair
    as two lines. Stands in for the source where there is no text source (a PDF)."""
    blocks = [f"Q: {pair.question}\nA: {pair.answer}" for pair in document.qa_pairs]
    for section in document.sections:
        heading = " > ".join(section.heading_path)
        blocks.append(f"{heading}\n{section.text}" if heading else section.text)
    return "\n\n".join(blocks)
