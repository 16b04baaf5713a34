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

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import IO, Any

import orjson
import phonenumbers
import structlog
from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from phonenumbers import timezone as phonenumbers_timezone

from agents.models import Agent
from agents.prompts import VARIABLE_RE
from agents.selectors import agent_config_resolve
from calls.batch_sources import (
    PHONE_COLUMNS,
    TIMEZONE_COLUMNS,
    CsvRows,
    FetchPolicy,
    RecordRows,
    Rows,
    S3Config,
    SourceRow,
    column_guess,
    open_rows,
    snake_case,
    too_large,
    url_fetch,
)
from calls.exceptions import BatchEmpty
from calls.models import Batch, BatchRow, BatchRowStatus, BatchStatus
from calls.selectors import caller_number_get, current_organization, dnc_numbers_listed
from calls.services.batch_control import batch_start
from calls.services.batches import batch_settings_clean
from organizations.models import Organization, User
from voiceagents.exceptions import ValidationFailed

__all__ = [
    "CHUNK_ROWS",
    "BatchSource",
    "ImportProgress",
    "RowsSource",
    "UploadSource",
    "UrlSource",
    "batch_create",
]

logger = structlog.get_logger(__name__)

CHUNK_ROWS = 2000
_RESERVED_KEYS = ("phone", "timezone")
_MAX_ERROR = 500


# --- what a batch is made from -------------------------------------------------------------------


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


# --- column mapping ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """Which columns of a row give its phone number, its time zone and its variables."""

    phone: str | None
    timezone: str | None
    variables: tuple[tuple[str, str], ...]  # (variable, column)


def _mapping_clean(mapping: Any) -> dict[str, str] | None:
    """The explicit mapping (None: guess). 400 ``column_mapping`` when it is not an object of
    our names to column names with a ``phone``."""
    if mapping in (None, "", {}):
        return None

    def fail(message: str) -> ValidationFailed:
        return ValidationFailed(message, details={"fields": {"column_mapping": [message]}})

    if not isinstance(mapping, Mapping):
        raise fail('Give an object of our names to your columns: {"phone": "Phone", ...}.')
    clean: dict[str, str] = {}
    for key, column in mapping.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise fail(f"{key!r} is not a name: letters, digits and _, not starting with a digit.")
        if not isinstance(column, str) or not column.strip():
            raise fail(f"{key}: name the input's column (a non-empty string).")
        clean[key] = column.strip()
    if "phone" not in clean:
        raise fail('Map the phone column: {"phone": "<your column>"}.')
    return clean


def _plan_for(columns: Sequence[str], mapping: dict[str, str] | None) -> _Plan:
    if mapping is not None:
        return _Plan(
            phone=mapping["phone"],
            timezone=mapping.get("timezone"),
            variables=tuple((k, v) for k, v in mapping.items() if k not in _RESERVED_KEYS),
        )
    by_snake: dict[str, str] = {}
    for column in columns:
        by_snake.setdefault(snake_case(str(column)), str(column))
    phone = column_guess(by_snake.values(), PHONE_COLUMNS)
    zone = column_guess(by_snake.values(), TIMEZONE_COLUMNS)
    variables = tuple(
        (snake, column)
        for snake, column in by_snake.items()
        if column not in (phone, zone) and VARIABLE_RE.fullmatch("{{" + snake + "}}")
    )
    return _Plan(phone=phone, timezone=zone, variables=variables)


def _plan_check(
    plan: _Plan, *, columns: Sequence[str], required: Sequence[str], explicit: bool
) -> None:
    """With the input's columns known (a CSV header): 400 ``column_mapping`` when the mapping
    names a column the input lacks, no phone column was found, or a prompt variable the agent
    needs has no column."""

    def fail(message: str, **details: Any) -> ValidationFailed:
        return ValidationFailed(
            message,
            details={"fields": {"column_mapping": [message]}, "columns": list(columns), **details},
        )

    shown = ", ".join(columns) or "(none)"
    if plan.phone is None:
        raise fail(
            "No phone column found (looked for " + ", ".join(PHONE_COLUMNS[:6]) + "…): name it "
            'in column_mapping, {"phone": "<column>"}. The columns are: ' + shown + "."
        )
    if explicit:
        named = [
            plan.phone,
            *([plan.timezone] if plan.timezone else []),
            *(c for _, c in plan.variables),
        ]
        missing = [column for column in named if column not in columns]
        if missing:
            raise fail(
                f"column_mapping names columns the input does not have: {', '.join(missing)}. "
                f"The columns are: {shown}.",
                missing_columns=missing,
            )
    provided = {name for name, _ in plan.variables}
    lacking = [name for name in required if name not in provided]
    if lacking:
        example = ", ".join(f'"{name}": "<column>"' for name in lacking)
        raise fail(
            "The agent's prompts use "
            + ", ".join("{{" + name + "}}" for name in lacking)
            + f", which no column provides: map them, {{{example}}}.",
            missing_variables=lacking,
        )


# --- checking rows -------------------------------------------------------------------------------


@cache
def _zones() -> dict[str, str]:
    """IANA zone names by their lower-case spelling."""
    return {name.lower(): name for name in zoneinfo.available_timezones()}


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _variable(value: Any) -> Any:
    """A prompt variable's value: text stripped; JSON numbers and the like as they are."""
    if value is None or isinstance(value, str):
        return _text(value)
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def _clip(message: str) -> str:
    return message if len(message) <= _MAX_ERROR else message[: _MAX_ERROR - 1] + "…"


class _RowChecker:
    """Turns source rows into BatchRows (unsaved): queued, invalid or skipped, with why."""

    def __init__(
        self,
        *,
        batch: Batch,
        mapping: dict[str, str] | None,
        region: str,
        required: Sequence[str],
        plan: _Plan | None,
        json_values: bool,
    ) -> None:
        self._batch = batch
        self._mapping = mapping
        self._region = region
        self._required = tuple(required)
        self._plan = plan
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._json_values = json_values
        self._first_line: dict[str, int] = {}
        self.counts: dict[str, int] = {
            BatchRowStatus.QUEUED: 0,
            BatchRowStatus.INVALID: 0,
            BatchRowStatus.SKIPPED: 0,
        }

    def _row_plan(self, values: Mapping[str, Any]) -> _Plan:
        if self._plan is not None:
            return self._plan
        key = tuple(values)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _plan_for([str(k) for k in key], self._mapping)
        return plan

    def _invalid(self, source: SourceRow, raw: Mapping[str, Any], error: str) -> _NewRow:
        return _NewRow(source.line_number, raw, "", "", {}, BatchRowStatus.INVALID, _clip(error))

    def _read(self, source: SourceRow) -> _NewRow:
        values = source.values
        if values is None:
            return self._invalid(source, {}, source.error or "Unreadable line.")
        if self._json_values and _has_nul(values):
            return self._invalid(source, {}, "The row contains a NUL character.")
        plan = self._row_plan(values)
        phone_text = _text(values.get(plan.phone)) if plan.phone else ""
        if not phone_text:
            return self._invalid(source, values, "No phone number.")
        try:
            parsed = phonenumbers.parse(phone_text, self._region)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            return self._invalid(source, values, f"{phone_text!r} is not a valid phone number.")
        number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        zone = ""
        zone_text = _text(values.get(plan.timezone)) if plan.timezone else ""
        if zone_text:
            zone = _zones().get(zone_text.lower(), "")
            if not zone:
                return self._invalid(
                    source,
                    values,
                    f"{zone_text!r} is not an IANA time zone (e.g. America/New_York).",
                )
        else:
            zone = _number_zone(parsed)
        variables = {name: _variable(values.get(column)) for name, column in plan.variables}
        lacking = [name for name in self._required if _text(variables.get(name)) == ""]
        if lacking:
            return self._invalid(
                source,
                values,
                "Missing prompt variable"
                + ("s" if len(lacking) > 1 else "")
                + ": "
                + ", ".join(lacking)
                + ".",
            )
        return _NewRow(
            source.line_number, values, number, zone, variables, BatchRowStatus.QUEUED, ""
        )

    def check(self, sources: Sequence[SourceRow]) -> list[_NewRow]:
        rows = [self._read(source) for source in sources]
        listed = dnc_numbers_listed(
            numbers={row.phone_number for row in rows if row.status == BatchRowStatus.QUEUED}
        )
        for row in rows:
            if row.status == BatchRowStatus.QUEUED:
                first = self._first_line.get(row.phone_number)
                if row.phone_number in listed:
                    row.status = BatchRowStatus.SKIPPED
                    row.error = "On the do-not-call list."
                elif first is not None:
                    row.status = BatchRowStatus.SKIPPED
                    row.error = f"Duplicate of line {first}."
                else:
                    self._first_line[row.phone_number] = row.line_number
            self.counts[row.status] += 1
        return rows


def _number_zone(parsed: phonenumbers.PhoneNumber) -> str:
    """The zone of the number's prefix when there is exactly one (the geographical lookup:
    the number is valid already, and its type costs as much again to compute)."""
    zones = phonenumbers_timezone.time_zones_for_geographical_number(parsed)
    if len(zones) == 1 and zones[0] in _zone_names():
        return str(zones[0])
    return ""


@dataclass(slots=True)
class _NewRow:
    """A row as checked, before it is written."""

    line_number: int
    raw: Mapping[str, Any]
    phone_number: str
    timezone: str
    variables: dict[str, Any]
    status: str
    error: str


_COPY_COLUMNS = (
    "batch_id",
    "line_number",
    "raw",
    "phone_number",
    "timezone",
    "variables",
    "status",
    "attempts",
    "outcome",
    "error",
    "updated_at",
)


def _column(name: str) -> str:
    field = BatchRow._meta.get_field(name.removesuffix("_id"))
    assert isinstance(field, models.Field)
    return str(field.column)


def _rows_write(batch: Batch, rows: Sequence[_NewRow]) -> None:
    """Insert a chunk of rows with PostgreSQL's COPY. bulk_create spent two thirds of a
    100,000-row import adapting values in Python (every JSON value, every array of the
    UNNEST insert); COPY takes the rows as text, the JSON serialized by orjson. The columns
    are the model's own (the names below are its fields)."""
    now = timezone.now()
    columns = ", ".join(f'"{_column(name)}"' for name in _COPY_COLUMNS)
    with (
        connection.cursor() as cursor,
        cursor.copy(f'COPY "{BatchRow._meta.db_table}" ({columns}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row(
                (
                    batch.pk,
                    row.line_number,
                    orjson.dumps(dict(row.raw)).decode(),
                    row.phone_number,
                    row.timezone,
                    orjson.dumps(row.variables).decode(),
                    row.status,
                    0,
                    "",
                    row.error,
                    now,
                )
            )


# --- opening the input ---------------------------------------------------------------------------


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
class _Opened:
    rows: Rows
    origin: str
    name: str
    size: int = 0
    close: Callable[[], None] | None = None


def _open(source: BatchSource, *, organization: Organization) -> _Opened:
    """The source's rows (a URL is fetched first, before any transaction)."""
    if isinstance(source, RowsSource):
        records = RecordRows(source.rows, columns=source.columns, line_numbers=source.line_numbers)
        return _Opened(rows=records, origin=source.origin, name=source.name[:500])
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
    return _Opened(rows=rows, origin=origin, name=shown[:500], size=size, close=close)


def _chunks(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    chunk: list[SourceRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _default_name(opened: _Opened) -> str:
    base = opened.name.rstrip("/").rsplit("/", 1)[-1] if opened.name else ""
    return (base or "Batch")[:200]


# --- the service ---------------------------------------------------------------------------------


def batch_create(
    *,
    agent_id: int | str,
    source: BatchSource,
    name: str = "",
    column_mapping: Mapping[str, Any] | None = None,
    from_number: str | None = None,
    settings_data: Mapping[str, Any] | None = None,
    start: bool = False,
    created_by: User | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
) -> Batch:
    """Create a batch from ``source``: settings checked first (400s naming the field), then
    every row read, checked and stored with the batch's counters in one transaction. With
    ``start`` the batch starts in that transaction too (all or nothing); otherwise it is left
    a draft. ``settings_data`` holds any of BATCH_SETTINGS_FIELDS; the window defaults to the
    organization's calling hours."""
    organization = current_organization()
    agent = _agent(agent_id)
    mapping = _mapping_clean(column_mapping)
    values = batch_settings_clean(data=dict(settings_data or {}), organization=organization)
    values.setdefault("max_concurrency", min(10, organization.max_concurrent_calls))
    if "window_start" not in values and "window_end" not in values:
        values["window_start"] = organization.calling_window_start
        values["window_end"] = organization.calling_window_end
    phone_number = caller_number_get(
        agent=agent, from_phone=from_number or None, field="from_number"
    )
    required = list(agent_config_resolve(agent_id=agent.pk).prompt_variables)

    opened = _open(source, organization=organization)
    try:
        rows = opened.rows
        plan: _Plan | None = None
        if rows.columns_known:
            plan = _plan_for(rows.columns, mapping)
            _plan_check(plan, columns=rows.columns, required=required, explicit=mapping is not None)
        with transaction.atomic():
            batch = Batch.objects.create(
                name=(name or "").strip()[:200] or _default_name(opened),
                agent=agent,
                status=BatchStatus.DRAFT,
                from_number=phone_number,
                column_mapping=mapping or {},
                source=opened.origin,
                source_name=opened.name,
                created_by=created_by,
                **values,
            )
            checker = _RowChecker(
                batch=batch,
                mapping=mapping,
                region=organization.default_region,
                required=required,
                plan=plan,
                json_values=not isinstance(rows, CsvRows),
            )
            done = 0
            for chunk in _chunks(rows, CHUNK_ROWS):
                _rows_write(batch, checker.check(chunk))
                done += len(chunk)
                if progress is not None:
                    progress(
                        ImportProgress(
                            rows=done, bytes_read=rows.bytes_read(), bytes_total=opened.size
                        )
                    )
            if not done:
                raise BatchEmpty(
                    "The input has no rows to call"
                    + (f" (columns: {', '.join(rows.columns)})." if rows.columns else ".")
                )
            counts = checker.counts
            batch.total_count = done
            batch.queued_count = counts[BatchRowStatus.QUEUED]
            batch.invalid_count = counts[BatchRowStatus.INVALID]
            batch.skipped_count = counts[BatchRowStatus.SKIPPED]
            batch.columns = list(rows.columns)
            batch.save(
                update_fields=[
                    "total_count",
                    "queued_count",
                    "invalid_count",
                    "skipped_count",
                    "columns",
                    "updated_at",
                ]
            )
            if start:
                batch = batch_start(batch=batch, actor=created_by)
    finally:
        if opened.close is not None:
            opened.close()
    logger.info(
        "batch_created",
        batch_id=batch.pk,
        rows=batch.total_count,
        queued=batch.queued_count,
        invalid=batch.invalid_count,
        skipped=batch.skipped_count,
        source=batch.source,
    )
    return batch


def _agent(agent_id: int | str) -> Agent:
    try:
        pk = int(agent_id)
    except (TypeError, ValueError):
        pk = None
    agent = Agent.objects.alive().filter(pk=pk).first() if pk is not None else None
    if agent is None:
        message = f"No agent with id {agent_id!r} in this organization."
        raise ValidationFailed(message, details={"fields": {"agent_id": [message]}})
    return agent
