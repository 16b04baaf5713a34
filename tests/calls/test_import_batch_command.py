"""``manage.py import_batch``: a file on disk becomes a batch of the named organization, with a
progress bar on stderr and one JSON line on stdout."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from calls.models import Batch, BatchRow

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_batch", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_file_is_imported_into_the_organization_with_a_progress_line(
    tmp_path, alpha, batch_agent, org_a
):
    path = tmp_path / "june.csv"
    path.write_text(
        "Phone,Name\n" + "".join(f"+1415556{i:04d},N{i}\n" for i in range(2500)) + "bad,x\n"
    )

    out, err = run(
        str(path),
        "--organization",
        org_a.slug,
        "--agent",
        str(batch_agent.pk),
        "--mapping",
        '{"phone": "Phone", "customer_name": "Name"}',
        "--dialing",
        '{"max_concurrency": 2}',
    )

    summary = json.loads(out)
    assert summary["total"] == 2501 and summary["queued"] == 2500 and summary["invalid"] == 1
    assert summary["status"] == "draft"
    assert "100%" in err and "2,501 rows" in err
    with alpha():
        batch = Batch.objects.get(pk=summary["batch_id"])
        assert (batch.name, batch.source, batch.max_concurrency) == ("june.csv", "cli", 2)
        assert BatchRow.objects.get(batch=batch, status="invalid").line_number == 2502


def test_errors_name_what_is_wrong(tmp_path, batch_agent, org_a):
    path = tmp_path / "x.csv"
    path.write_text("who\n+14155550101\n")
    with pytest.raises(CommandError, match="No organization"):
        run(str(path), "--organization", "nope", "--agent", str(batch_agent.pk))
    with pytest.raises(CommandError, match="validation_error: No phone column"):
        run(str(path), "--organization", org_a.slug, "--agent", str(batch_agent.pk))
    with pytest.raises(CommandError, match="--mapping must be JSON"):
        run(str(path), "--organization", org_a.slug, "--agent", "1", "--mapping", "{")
