"""A batch's input, without the database: where it comes from (``fetch``: https:// and s3://
URLs, size-limited and streamed) and what it holds (``readers``: CSV and JSON rows, read
lazily, each with its line number or the reason it could not be read).
"""

from calls.batch_sources.columns import PHONE_COLUMNS, TIMEZONE_COLUMNS, column_guess, snake_case
from calls.batch_sources.fetch import (
    Fetched,
    FetchPolicy,
    S3Config,
    address_allowed,
    https_fetch,
    s3_fetch,
    too_large,
    url_fetch,
)
from calls.batch_sources.readers import (
    MAX_RECORD_LINES,
    CsvRows,
    JsonRows,
    RecordRows,
    Rows,
    SourceRow,
    detect_encoding,
    detect_format,
    open_rows,
    sniff_delimiter,
)

__all__ = [
    "MAX_RECORD_LINES",
    "PHONE_COLUMNS",
    "TIMEZONE_COLUMNS",
    "CsvRows",
    "FetchPolicy",
    "Fetched",
    "JsonRows",
    "RecordRows",
    "Rows",
    "S3Config",
    "SourceRow",
    "address_allowed",
    "column_guess",
    "detect_encoding",
    "detect_format",
    "https_fetch",
    "open_rows",
    "s3_fetch",
    "sniff_delimiter",
    "snake_case",
    "too_large",
    "url_fetch",
]
