"""Creating a batch from its input (the service description's ``create_batch``): the settings
are validated, the input read row by row (an upload, inline rows, an ``https://`` or
``s3://`` URL), every row checked and stored with its line number, and the batch's counters
set in the same transaction as its rows.

A row is ``queued`` (to be dialed), ``invalid`` (it cannot be dialed: a broken line, no or a
bad phone number, a bad time zone, a prompt variable the agent needs but the row lacks) or
``skipped`` (on the do-not-call list, or a number an earlier row already has). Invalid and
skipped rows keep their line number and the reason, in ``error``.

Columns: ``column_mapping`` maps our names to the input's columns: ``phone`` (required),
``timezone`` (optional), and any other key is a prompt variable filled from that column
(``{"phone": "Phone", "customer_name": "Name"}``). Without a mapping the phone column is
guessed from common names (``calls.batch_sources.PHONE_COLUMNS``), the time zone likewise, and every
other column becomes a variable under its name in snake case (``Customer Name`` ->
``customer_name``). Every column, mapped or not, is kept in the row's ``raw`` and the report.

Numbers without a country code are read in the organization's ``default_region``. A row's
time zone is its time-zone column, else the number's own zone when the number has exactly one,
else empty (the dialer then uses the organization's).

Rows are checked and written in chunks of CHUNK_ROWS: one do-not-call query per chunk (a set
lookup), one COPY of the rows, so memory stays flat however long the input.
"""

from calls.services.batch_import.create import CHUNK_ROWS, batch_create
from calls.services.batch_import.sources import (
    BatchSource,
    ImportProgress,
    RowsSource,
    UploadSource,
    UrlSource,
)

__all__ = [
    "CHUNK_ROWS",
    "BatchSource",
    "ImportProgress",
    "RowsSource",
    "UploadSource",
    "UrlSource",
    "batch_create",
]
