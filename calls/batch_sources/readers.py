"""What a batch's input holds: its rows, read lazily from a seekable binary stream (an upload,
a downloaded file, a file on disk) or from records already in memory (inline JSON rows, a
spreadsheet the admin read).

CSV: the encoding is detected (a BOM for UTF-8 or UTF-16; UTF-16 without one from its zero
bytes; else UTF-8 if the whole file decodes, else Windows-1252, else Latin-1), the delimiter
is sniffed among ``,`` ``;`` tab and ``|``, quoted fields may hold newlines. A row's
``line_number`` is the physical line it starts on (the header is line 1), however many lines
its quoted fields span. A line that cannot be parsed (a stray quote, a field never closed, too
many fields, a NUL character) becomes a row with an error and no values, and reading goes on
with the next line, so one broken line costs one row.

JSON: an array of objects, parsed item by item (the file is never held whole); a row's
``line_number`` is its position in the array, the first being 1. JSON has no lines to skip
past, so a syntax error refuses the whole input.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from calls.exceptions import BatchSourceUnreadable

__all__ = [
    "MAX_RECORD_LINES",
    "CsvRows",
    "JsonRows",
    "RecordRows",
    "Rows",
    "SourceRow",
    "detect_encoding",
    "detect_format",
    "open_rows",
    "sniff_delimiter",
]

# How many physical lines one CSV record may span before it counts as broken (a quote that is
# never closed would otherwise swallow the rest of the file).
MAX_RECORD_LINES = 100
DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 20
_SNIFF_BYTES = 64 * 1024
_SNIFF_LINES = 50


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One row as read: its columns, or (``values`` None) why the line could not be read."""

    line_number: int
    values: Mapping[str, Any] | None
    error: str = ""


class Rows:
    """The rows of one input, read once, in order. ``columns`` are the input's columns in
    order: a CSV's header (known before the first row, ``columns_known``), or every key the
    JSON objects had so far, in order of first appearance."""

    columns: list[str]
    columns_known: bool = False

    def __iter__(self) -> Iterator[SourceRow]:
        raise NotImplementedError

    def bytes_read(self) -> int:
        """How far into the input reading has got (for progress bars); 0 when unknown."""
        return 0


# --- encodings -----------------------------------------------------------------------------------


def detect_encoding(stream: IO[bytes]) -> tuple[str, str]:
    """``(encoding, errors)`` for reading ``stream`` as text; the stream is left at 0.

    Files that are not valid UTF-8 but contained valid multi-byte UTF-8 before the first
    invalid byte are UTF-8 with a damaged byte, not Windows-1252: they are read as UTF-8 with
    the damage replaced (U+FFFD) rather than turned into mojibake throughout."""
    stream.seek(0)
    head = stream.read(4096)
    stream.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "strict"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "strict"
    utf16 = _utf16_without_bom(head)
    if utf16:
        return utf16, "strict"
    verdict = _utf8_verdict(stream)
    if verdict == "valid":
        return "utf-8", "strict"
    if verdict == "damaged":
        return "utf-8", "replace"
    if _decodes(stream, "cp1252"):
        return "cp1252", "strict"
    return "latin-1", "strict"


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text without a BOM, recognised by its zero bytes: mostly-ASCII text has a zero in
    every other byte (odd positions little-endian, even ones big-endian)."""
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even = head[0 : pairs * 2 : 2].count(0)
    odd = head[1 : pairs * 2 : 2].count(0)
    if odd > pairs * 0.4 and even < pairs * 0.05:
        return "utf-16-le"
    if even > pairs * 0.4 and odd < pairs * 0.05:
        return "utf-16-be"
    return None


def _utf8_verdict(stream: IO[bytes]) -> str:
    """``valid``, ``damaged`` (invalid after valid multi-byte text) or ``invalid``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    seen_multibyte = False
    try:
        while chunk := stream.read(_CHUNK):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                valid_part = chunk[: max(exc.start, 0)]
                return "damaged" if seen_multibyte or not valid_part.isascii() else "invalid"
            seen_multibyte = seen_multibyte or not text.isascii()
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "damaged" if seen_multibyte else "invalid"
    finally:
        stream.seek(0)
    return "valid"


def _decodes(stream: IO[bytes], encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        while chunk := stream.read(_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        stream.seek(0)
    return True


def _sample(stream: IO[bytes], encoding: str, errors: str) -> str:
    """The first complete lines of the stream as text; the stream is left at 0."""
    stream.seek(0)
    raw = stream.read(_SNIFF_BYTES)
    more = bool(stream.read(1))
    stream.seek(0)
    text = codecs.getincrementaldecoder(encoding)(errors=errors).decode(raw, final=not more)
    if more and "\n" in text:
        text = text[: text.rindex("\n") + 1]  # drop the line the sample cut
    return text


# --- formats -------------------------------------------------------------------------------------


def detect_format(*, name: str, content_type: str, stream: IO[bytes]) -> str:
    """``csv`` or ``json``: from the file name's extension, else its content type, else its
    first character (``[`` is JSON). A spreadsheet is refused (BatchSourceUnreadable)."""
    head = stream.read(4)
    stream.seek(0)
    if head.startswith(b"PK\x03\x04") or _is_spreadsheet_name(name):
        # A zip: an XLSX (or ODS) workbook, which only the admin's import reads.
        raise BatchSourceUnreadable(
            "This is a spreadsheet (XLSX): save it as CSV, or import it in the admin."
        )
    lowered = name.lower()
    if lowered.endswith(".json"):
        return "json"
    if lowered.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in ("application/json", "text/json"):
        return "json"
    if kind in ("text/csv", "text/tab-separated-values", "text/plain"):
        return "csv"
    encoding, errors = detect_encoding(stream)
    return "json" if _sample(stream, encoding, errors).lstrip().startswith("[") else "csv"


def _is_spreadsheet_name(name: str) -> bool:
    return name.lower().endswith((".xlsx", ".xls", ".ods"))


def open_rows(stream: IO[bytes], *, name: str = "", content_type: str = "") -> Rows:
    """The rows of a CSV or JSON input (see :func:`detect_format`)."""
    if detect_format(name=name, content_type=content_type, stream=stream) == "json":
        return JsonRows(stream)
    return CsvRows(stream)


# --- CSV -----------------------------------------------------------------------------------------


def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the sample's header into the most columns with the most lines
    agreeing on that count; a comma when nothing splits the header (one column)."""
    lines = sample.splitlines(keepends=True)[:_SNIFF_LINES]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            records = [record for record in csv.reader(lines, delimiter=delimiter) if record]
        except csv.Error:
            continue
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        agreeing = sum(1 for record in records[1:] if len(record) == width)
        score = (agreeing, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


class _RecordTooLong(Exception):
    pass


class _LineFeed:
    """The physical lines csv.reader consumes, numbered. The lines of the record being read are
    kept, so that when the record turns out broken its first line is reported and the lines
    after it are read again as records of their own."""

    def __init__(self, text: Iterable[str]) -> None:
        self._lines = iter(text)
        self._replay: deque[tuple[int, str]] = deque()
        self._next_number = 1
        self.record: list[tuple[int, str]] = []
        self.has_nul = False

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if len(self.record) >= MAX_RECORD_LINES:
            raise _RecordTooLong()
        if self._replay:
            number, line = self._replay.popleft()
        else:
            line = next(self._lines)
            number = self._next_number
            self._next_number += 1
        self.record.append((number, line))
        if "\x00" in line:
            self.has_nul = True
        return line

    def start_record(self) -> None:
        self.record = []
        self.has_nul = False

    @property
    def record_start(self) -> int:
        return self.record[0][0] if self.record else self._next_number

    def replay_after_first(self) -> None:
        """Read the current record's lines after its first again."""
        self._replay.extendleft(reversed(self.record[1:]))


_CSV_ERRORS = {
    "unexpected end of data": "a quoted field is never closed",
}


class CsvRows(Rows):
    """A CSV input; the header is read when this is made, so ``columns`` are known at once."""

    columns_known = True

    def __init__(self, stream: IO[bytes], *, delimiter: str | None = None) -> None:
        self._binary = stream
        encoding, errors = detect_encoding(stream)
        self.encoding = encoding
        self.delimiter = delimiter or sniff_delimiter(_sample(stream, encoding, errors))
        stream.seek(0)
        self._text = io.TextIOWrapper(
            io.BufferedReader(_Unclosable(stream)), encoding=encoding, errors=errors, newline=""
        )
        self._feed = _LineFeed(self._text)
        self._reader = csv.reader(self._feed, delimiter=self.delimiter, strict=True)
        self.columns = self._header()

    def bytes_read(self) -> int:
        return self._binary.tell()

    def _next_record(self) -> list[str] | None:
        """The next record's fields (None at the end); csv.Error or _RecordTooLong when the
        record is broken (after which reading resumes at its second line)."""
        self._feed.start_record()
        try:
            return next(self._reader)
        except StopIteration:
            return None
        except (csv.Error, _RecordTooLong):
            self._feed.replay_after_first()
            raise

    def _header(self) -> list[str]:
        while True:
            try:
                fields = self._next_record()
            except (csv.Error, _RecordTooLong) as exc:
                raise BatchSourceUnreadable(
                    f"The header (line {self._feed.record_start}) cannot be read: "
                    f"{_describe(exc)}.",
                    details={"line": self._feed.record_start},
                ) from None
            if fields is None:
                return []
            if any(field.strip() for field in fields):
                break
        if self._feed.has_nul:
            raise BatchSourceUnreadable(
                "The header contains a NUL character.", details={"line": self._feed.record_start}
            )
        columns = [field.strip() or f"column_{index}" for index, field in enumerate(fields, 1)]
        seen: dict[str, int] = {}
        for index, column in enumerate(columns, 1):
            if column in seen:
                raise BatchSourceUnreadable(
                    f"The header names the column {column!r} twice (columns {seen[column]} "
                    f"and {index}).",
                    details={"line": self._feed.record_start, "column": column},
                )
            seen[column] = index
        return columns

    def __iter__(self) -> Iterator[SourceRow]:
        columns = self.columns
        width = len(columns)
        feed = self._feed
        while True:
            try:
                fields = self._next_record()
            except (csv.Error, _RecordTooLong) as exc:
                yield SourceRow(feed.record_start, None, f"Unreadable line: {_describe(exc)}.")
                continue
            if fields is None:
                return
            line_number = feed.record_start
            if feed.has_nul:
                yield SourceRow(line_number, None, "Unreadable line: it contains a NUL character.")
            elif len(fields) > width:
                yield SourceRow(
                    line_number,
                    None,
                    f"Unreadable line: {len(fields)} fields where the header has {width}.",
                )
            elif len(fields) == width:
                yield SourceRow(line_number, dict(zip(columns, fields, strict=True)))
            elif any(field.strip() for field in fields):
                # Missing trailing fields are empty.
                values = dict.fromkeys(columns, "")
                values.update(zip(columns, fields, strict=False))
                yield SourceRow(line_number, values)
            # else: a blank line, not a row


def _describe(exc: Exception) -> str:
    if isinstance(exc, _RecordTooLong):
        return f"a quoted field runs over more than {MAX_RECORD_LINES} lines (a stray quote?)"
    message = str(exc)
    return _CSV_ERRORS.get(message, message)


class _Unclosable(io.RawIOBase):
    """A view of a binary stream that TextIOWrapper may close without closing the stream
    (the caller owns the upload or the temporary file)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# --- JSON ----------------------------------------------------------------------------------------

# The largest single JSON item (one row's object) accepted.
_MAX_ITEM_CHARS = 1 << 20


class JsonRows(Rows):
    """A JSON array of objects, decoded item by item."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._binary = stream
        encoding, errors = detect_encoding(stream)
        stream.seek(0)
        self._text = io.TextIOWrapper(
            io.BufferedReader(_Unclosable(stream)), encoding=encoding, errors=errors, newline=""
        )
        self.columns = []
        self._known: set[str] = set()

    def bytes_read(self) -> int:
        return self._binary.tell()

    def __iter__(self) -> Iterator[SourceRow]:
        for position, item in _json_array_items(self._text):
            if not isinstance(item, dict):
                yield SourceRow(position, None, "Not an object of column names and values.")
                continue
            for key in item:
                if key not in self._known:
                    self._known.add(key)
                    self.columns.append(key)
            yield SourceRow(position, item)


def _json_array_items(text: IO[str]) -> Iterator[tuple[int, Any]]:
    """``(position, item)`` for each item of the JSON array ``text`` holds, decoding one item
    at a time from a buffer topped up as needed."""
    decoder = json.JSONDecoder()
    buffer = ""
    pos = 0
    consumed_newlines = 0  # newlines in the text dropped from the buffer (for error positions)
    eof = False

    def fill() -> bool:
        nonlocal buffer, pos, consumed_newlines, eof
        if eof:
            return False
        more = text.read(_CHUNK)
        if not more:
            eof = True
            return False
        consumed_newlines += buffer.count("\n", 0, pos)
        buffer = buffer[pos:] + more
        pos = 0
        return True

    def skip_space() -> str:
        """The next non-space character (without consuming it); '' at the end."""
        nonlocal pos
        while True:
            while pos < len(buffer) and buffer[pos] in " \t\r\n":
                pos += 1
            if pos < len(buffer):
                return buffer[pos]
            if not fill():
                return ""

    def fail(message: str) -> BatchSourceUnreadable:
        line = consumed_newlines + buffer.count("\n", 0, pos) + 1
        return BatchSourceUnreadable(
            f"The JSON cannot be read: {message} (line {line}).", details={"line": line}
        )

    first = skip_space()
    if first == "\ufeff":
        pos += 1
        first = skip_space()
    if first != "[":
        raise fail("expected an array of row objects")
    pos += 1
    position = 0
    while True:
        char = skip_space()
        if not char:
            raise fail("the array is never closed")
        if char == "]":
            pos += 1
            if skip_space():
                raise fail("unexpected text after the array")
            return
        if position:
            if char != ",":
                raise fail("expected ',' or ']' between rows")
            pos += 1
            char = skip_space()
        if not char:
            raise fail("the array is never closed")
        while True:
            try:
                item, end = decoder.raw_decode(buffer, pos)
            except json.JSONDecodeError as exc:
                if len(buffer) - pos < _MAX_ITEM_CHARS and fill():
                    continue
                pos = exc.pos
                raise fail(exc.msg) from None
            # A number or literal at the end of the buffer may go on in the next chunk.
            if end < len(buffer) or not fill():
                break
        position += 1
        pos = end
        yield position, item


# --- records already in memory -------------------------------------------------------------------


class RecordRows(Rows):
    """Rows given as mappings (inline JSON rows, a spreadsheet's rows): numbered by position
    from 1, or by ``line_numbers`` when the caller knows them."""

    def __init__(
        self,
        records: Iterable[Any],
        *,
        columns: Sequence[str] | None = None,
        line_numbers: Iterable[int] | None = None,
    ) -> None:
        self._records = records
        self._line_numbers = line_numbers
        self.columns = list(columns or [])
        self.columns_known = columns is not None
        self._known = set(self.columns)

    def __iter__(self) -> Iterator[SourceRow]:
        numbers: Iterable[int] = (
            self._line_numbers if self._line_numbers is not None else _count_from(1)
        )
        for line_number, record in zip(numbers, self._records, strict=False):
            if not isinstance(record, Mapping):
                yield SourceRow(line_number, None, "Not an object of column names and values.")
                continue
            if not self.columns_known:
                for key in record:
                    if key not in self._known:
                        self._known.add(key)
                        self.columns.append(str(key))
            yield SourceRow(line_number, record)


def _count_from(start: int) -> Iterator[int]:
    number = start
    while True:
        yield number
        number += 1
