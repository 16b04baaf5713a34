"""What a batch is made from (an upload, rows in memory, a URL) and opening it as rows."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings

from calls.batch_sources import (
    FetchPolicy,
    RecordRows,
    Rows,
    S3Config,
    SourceRow,
    open_rows,
    too_large,
    url_fetch,
)
from organizations.models import Organization

__all__ = [
    "BatchSource",
    "ImportProgress",
    "Opened",
    "RowsSource",
    "UploadSource",
    "UrlSource",
    "chunks",
    "default_name",
    "source_open",
]


@dataclass(frozen=True)
class UploadSource:
    """A file: an upload, a file on disk (the command), the admin's upload."""

    file: IO[bytes]
    name: str = ""
    content_type: str = ""
    origin: str = "upload"


@dataclass(frozen=True)
class RowsSource:
    """Rows already in memory: inline JSON rows, a spreadsheet the admin read."""

    rows: Iterable[Any]
    columns: Sequence[str] | None = None
    line_numbers: Iterable[int] | None = None
    name: str = ""
    origin: str = "rows"


@dataclass(frozen=True)
class UrlSource:
    """An ``https://`` or ``s3://`` URL."""

    url: str


BatchSource = UploadSource | RowsSource | UrlSource


@dataclass(frozen=True, slots=True)
class ImportProgress:
    rows: int
    bytes_read: int
    bytes_total: int


def _fetch_policy() -> FetchPolicy:
    return FetchPolicy(
        max_bytes=int(settings.BATCH_MAX_FILE_BYTES),
        timeout=float(settings.BATCH_FILE_URL_TIMEOUT),
        allow_private=bool(settings.BATCH_FILE_URL_ALLOW_PRIVATE),
        allowed_networks=tuple(
            ipaddress.ip_network(network, strict=False)
            for network in settings.BATCH_FILE_URL_ALLOWED_NETWORKS
        ),
    )


def _s3_config() -> S3Config | None:
    if not settings.BATCH_S3_ACCESS_KEY_ID:
        return None
    return S3Config(
        access_key_id=settings.BATCH_S3_ACCESS_KEY_ID,
        secret_access_key=settings.BATCH_S3_SECRET_ACCESS_KEY,
        region=settings.BATCH_S3_REGION,
        endpoint_url=settings.BATCH_S3_ENDPOINT_URL,
        buckets=tuple(settings.BATCH_S3_BUCKETS),
    )


def _file_size(file: IO[bytes]) -> int:
    position = file.tell()
    file.seek(0, 2)
    size = file.tell()
    file.seek(position)
    return size


@dataclass
class Opened:
    rows: Rows
    origin: str
    name: str
    size: int = 0
    close: Callable[[], None] | None = None


def source_open(source: BatchSource, *, organization: Organization) -> Opened:
    """The source's rows (a URL is fetched first, before any transaction)."""
    if isinstance(source, RowsSource):
        records = RecordRows(source.rows, columns=source.columns, line_numbers=source.line_numbers)
        return Opened(rows=records, origin=source.origin, name=source.name[:500])
    close: Callable[[], None] | None = None
    if isinstance(source, UrlSource):
        fetched = url_fetch(
            source.url,
            policy=_fetch_policy(),
            s3=_s3_config(),
            s3_key_prefix=f"{organization.slug}/",
        )
        file, name, content_type = fetched.file, fetched.name, fetched.content_type
        origin = "s3" if source.url.lower().startswith("s3:") else "url"
        shown, close = source.url, fetched.file.close
    else:
        file, name, content_type = source.file, source.name, source.content_type
        origin, shown = source.origin, source.name
    try:
        size = _file_size(file)
        max_bytes = int(settings.BATCH_MAX_FILE_BYTES)
        if size > max_bytes:
            raise too_large(max_bytes)
        rows = open_rows(file, name=name, content_type=content_type)
    except BaseException:
        if close is not None:
            close()
        raise
    return Opened(rows=rows, origin=origin, name=shown[:500], size=size, close=close)


def chunks(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    chunk: list[SourceRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def default_name(opened: Opened) -> str:
    base = opened.name.rstrip("/").rsplit("/", 1)[-1] if opened.name else ""
    return (base or "Batch")[:200]
