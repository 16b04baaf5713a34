"""Create a batch from a CSV or JSON file on disk, with a progress bar:

    python manage.py import_batch calls.csv --organization acme --agent 7 \\
        --mapping '{"phone": "Phone", "customer_name": "Name"}' --name "June renewals"

The file is streamed (any size up to BATCH_MAX_FILE_BYTES). Prints one JSON line at the end:
the batch's id and counters. The batch is left a draft unless ``--start``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django_tenants.utils import tenant_context

from calls import services
from organizations.models import Organization
from voiceagents.exceptions import ApplicationError


class _ProgressBar:
    """``[#####.....]  45%  45,000 rows  12.3/27.0 MB`` on one terminal line, redrawn at
    most ten times a second; one final line when the output is not a terminal."""

    def __init__(self, stream: OutputWrapper, *, width: int = 30) -> None:
        self._stream = stream
        self._width = width
        self._last = 0.0
        self._tty = stream.isatty()

    def update(self, progress: services.ImportProgress, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < 0.1:
            return
        self._last = now
        total = progress.bytes_total or 1
        fraction = 1.0 if final else min(progress.bytes_read / total, 1.0)
        filled = round(self._width * fraction)
        line = (
            f"[{'#' * filled}{'.' * (self._width - filled)}] {fraction:4.0%}  "
            f"{progress.rows:,} rows  {progress.bytes_read / 1e6:.1f}/{total / 1e6:.1f} MB"
        )
        if self._tty:
            self._stream.write("\r" + line, ending="\n" if final else "")
            self._stream.flush()
        elif final:
            self._stream.write(line)


class Command(BaseCommand):
    help = "Create a batch from a CSV or JSON file (streamed), showing progress."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="A CSV or JSON file.")
        parser.add_argument("--organization", required=True, help="The organization's slug.")
        parser.add_argument("--agent", required=True, type=int, help="The agent's id.")
        parser.add_argument(
            "--mapping",
            default="",
            help='Column mapping as JSON, e.g. {"phone": "Phone", "customer_name": "Name"}; '
            "without it the phone column is guessed.",
        )
        parser.add_argument("--name", default="", help="Default: the file's name.")
        parser.add_argument("--from-number", default="", help="One of the organization's numbers.")
        parser.add_argument(
            "--dialing",
            default="",
            help='Dialing settings as JSON, e.g. {"max_concurrency": 5, "calls_per_second": 1}.',
        )
        parser.add_argument("--start", action="store_true", help="Start dialing at once.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        organization = Organization.objects.filter(slug=options["organization"]).first()
        if organization is None or organization.is_public:
            raise CommandError(f"No organization with the slug {options['organization']!r}.")
        mapping = _json_option(options["mapping"], "--mapping")
        settings_data = _json_option(options["dialing"], "--dialing")
        bar = _ProgressBar(self.stderr)
        last: list[services.ImportProgress] = []

        def progress(step: services.ImportProgress) -> None:
            last[:] = [step]
            bar.update(step)

        with tenant_context(organization), path.open("rb") as file:
            try:
                batch = services.batch_create(
                    agent_id=options["agent"],
                    source=services.UploadSource(file=file, name=path.name, origin="cli"),
                    name=options["name"],
                    column_mapping=mapping,
                    from_number=options["from_number"] or None,
                    settings_data=settings_data,
                    start=options["start"],
                    progress=progress,
                )
            except ApplicationError as exc:
                details = f" {json.dumps(exc.details)}" if exc.details else ""
                raise CommandError(f"{exc.code}: {exc.message}{details}") from None
        if last:
            bar.update(last[0], final=True)
        self.stdout.write(
            json.dumps(
                {
                    "batch_id": batch.pk,
                    "status": batch.status,
                    "total": batch.total_count,
                    "queued": batch.queued_count,
                    "invalid": batch.invalid_count,
                    "skipped": batch.skipped_count,
                }
            )
        )


def _json_option(value: str, name: str) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        raise CommandError(f"{name} must be JSON.") from None
    if not isinstance(parsed, dict):
        raise CommandError(f"{name} must be a JSON object.")
    return parsed
