"""The batches API: create from a multipart file (CSV or JSON), inline rows or a file_url
(https on loopback, s3 on moto's server), the size limit (413, the JSON error shape), roles,
400s naming the field, progress, rows, the streamed report, changes while draft or paused,
deletion."""

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from calls.models import Batch, BatchRow, BatchStatus, Call
from tests.fakes import s3_server
from tests.fakes.https_files import FakeFileServer, Served

pytestmark = pytest.mark.django_db

ADA, BOB = "+14155550101", "+14155550102"
CSV_TEXT = f"phone,customer_name,plan\n{ADA},Ada,gold\nnope,Bob,silver\n{ADA},Ada,gold\n"


@pytest.fixture
def member(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "member"))


@pytest.fixture
def viewer(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "viewer"))


def upload(client, agent, text=CSV_TEXT, name="june.csv", **fields):
    data = {"agent_id": agent.pk, "file": SimpleUploadedFile(name, text.encode()), **fields}
    return client.post("/api/v1/batches/", data, format="multipart")


def error_of(response):
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


def test_a_member_creates_a_batch_from_a_csv_upload(member, batch_agent, alpha):
    response = upload(
        member,
        batch_agent,
        column_mapping='{"phone": "phone", "customer_name": "customer_name"}',
        max_concurrency="3",
        window_days="[0, 1, 2]",
        retry_outcomes="no_answer",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "june.csv"
    assert body["status"] == "draft"
    assert body["source"] == "upload" and body["source_name"] == "june.csv"
    assert body["columns"] == ["phone", "customer_name", "plan"]
    assert body["from_number"] == "+14155550100"
    assert (body["max_concurrency"], body["window_days"], body["retry_outcomes"]) == (
        3,
        [0, 1, 2],
        ["no_answer"],
    )
    assert body["counts"] == {
        "total": 3,
        "queued": 1,
        "in_progress": 0,
        "completed": 0,
        "failed": 0,
        "invalid": 1,
        "skipped": 1,
        "canceled": 0,
    }
    assert body["progress"] == {
        "total": 3,
        "finished": 2,
        "remaining": 1,
        "percent": 66.7,
        "rate_per_minute": 0.0,
        "eta_seconds": None,
        "estimated_finish_at": None,
    }


def test_a_json_file_and_inline_rows(member, batch_agent):
    json_file = upload(
        member,
        batch_agent,
        text=f'[{{"phone": "{ADA}", "customer_name": "Ada"}}]',
        name="rows.json",
    )
    inline = member.post(
        "/api/v1/batches/",
        {
            "agent_id": batch_agent.pk,
            "name": "Inline",
            "rows": [{"phone": ADA, "customer_name": "Ada"}, {"phone": BOB}],
        },
        format="json",
    )

    assert json_file.status_code == 201, json_file.content
    assert json_file.json()["counts"]["queued"] == 1
    assert inline.status_code == 201, inline.content
    assert inline.json()["name"] == "Inline"
    assert (inline.json()["counts"]["queued"], inline.json()["counts"]["invalid"]) == (1, 1)


def test_a_file_url_over_https_when_private_addresses_are_allowed(
    member, batch_agent, settings, monkeypatch
):
    with FakeFileServer() as files:
        monkeypatch.setenv("SSL_CERT_FILE", files.ca_file())
        files.files["/exports/june.csv"] = Served(CSV_TEXT.encode())
        settings.BATCH_FILE_URL_ALLOW_PRIVATE = True
        allowed = member.post(
            "/api/v1/batches/",
            {"agent_id": batch_agent.pk, "file_url": files.url("/exports/june.csv")},
            format="json",
        )
        settings.BATCH_FILE_URL_ALLOW_PRIVATE = False
        refused = member.post(
            "/api/v1/batches/",
            {"agent_id": batch_agent.pk, "file_url": files.url("/exports/june.csv", "localhost")},
            format="json",
        )
        assert len(files.requests) == 1

    assert allowed.status_code == 201, allowed.content
    assert allowed.json()["source"] == "url"
    assert allowed.json()["name"] == "june.csv"
    assert allowed.json()["counts"]["total"] == 3
    assert refused.status_code == 400
    assert error_of(refused)["code"] == "batch_source_refused"


def test_a_file_url_on_s3(member, batch_agent, settings, org_a):
    with s3_server.fake_s3() as s3:
        s3.put("drop", f"{org_a.slug}/june.csv", CSV_TEXT.encode())
        settings.BATCH_S3_ACCESS_KEY_ID = s3_server.ACCESS_KEY_ID
        settings.BATCH_S3_SECRET_ACCESS_KEY = s3_server.SECRET_ACCESS_KEY
        settings.BATCH_S3_ENDPOINT_URL = s3.endpoint_url
        response = member.post(
            "/api/v1/batches/",
            {"agent_id": batch_agent.pk, "file_url": f"s3://drop/{org_a.slug}/june.csv"},
            format="json",
        )
        other = member.post(
            "/api/v1/batches/",
            {"agent_id": batch_agent.pk, "file_url": "s3://drop/beta/june.csv"},
            format="json",
        )

    assert response.status_code == 201, response.content
    assert response.json()["source"] == "s3"
    assert response.json()["counts"]["total"] == 3
    assert other.status_code == 400 and error_of(other)["code"] == "batch_source_refused"


def test_an_input_over_the_limit_is_a_413_in_the_json_error_shape(member, batch_agent, settings):
    settings.BATCH_MAX_FILE_BYTES = 50
    small_body = upload(member, batch_agent)  # the file is over, the request is not
    huge = upload(member, batch_agent, text="phone\n" + "+14155550101\n" * 100_000)
    rows = member.post(
        "/api/v1/batches/",
        {"agent_id": batch_agent.pk, "rows": [{"phone": ADA, "pad": "x" * 1_100_000}]},
        format="json",
    )

    for response in (small_body, huge, rows):
        assert response.status_code == 413, response.content
        error = error_of(response)
        assert error["code"] == "batch_source_too_large"
        assert error["details"] == {"max_bytes": 50}
        assert error["request_id"]


def test_a_viewer_reads_but_cannot_create_change_or_delete(viewer, member, batch_agent):
    batch_id = upload(member, batch_agent).json()["id"]

    assert upload(viewer, batch_agent).status_code == 403
    assert viewer.patch(f"/api/v1/batches/{batch_id}/", {"name": "x"}).status_code == 403
    assert viewer.delete(f"/api/v1/batches/{batch_id}/").status_code == 403
    for path in ("", f"{batch_id}/", f"{batch_id}/rows/", f"{batch_id}/report.csv"):
        assert viewer.get(f"/api/v1/batches/{path}").status_code == 200, path


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"agent_id": 99999}, "agent_id"),
        ({"max_concurrency": 50}, "max_concurrency"),
        ({"calls_per_second": 1000}, "calls_per_second"),
        ({"retry_outcomes": "answered"}, "retry_outcomes"),
        ({"from_number": "+14155550199"}, "from_number"),
        ({"column_mapping": "{not json"}, "column_mapping"),
        ({"column_mapping": '{"phone": "Phone"}'}, "column_mapping"),
        ({"file_url": "https://example.com/x.csv"}, "file"),  # two sources
    ],
)
def test_bad_settings_are_400s_naming_the_field(member, batch_agent, fields, field):
    response = upload(member, batch_agent, **fields)

    assert response.status_code == 400, response.content
    assert field in error_of(response)["details"]["fields"]


def test_no_input_at_all_is_a_400(member, batch_agent):
    response = member.post("/api/v1/batches/", {"agent_id": batch_agent.pk}, format="json")

    assert response.status_code == 400
    assert "file" in error_of(response)["details"]["fields"]


def test_rows_are_listed_in_input_order_filtered_by_status_and_paginated(member, batch_agent):
    batch_id = upload(member, batch_agent).json()["id"]

    everything = member.get(f"/api/v1/batches/{batch_id}/rows/").json()
    bad = member.get(f"/api/v1/batches/{batch_id}/rows/?status=invalid&status=skipped").json()
    page = member.get(f"/api/v1/batches/{batch_id}/rows/?page_size=1&page=2").json()

    assert [row["line_number"] for row in everything["results"]] == [2, 3, 4]
    assert [(row["line_number"], row["status"], row["error"]) for row in bad["results"]] == [
        (3, "invalid", "'nope' is not a valid phone number."),
        (4, "skipped", "Duplicate of line 2."),
    ]
    assert everything["results"][0]["raw"] == {"phone": ADA, "customer_name": "Ada", "plan": "gold"}
    assert everything["results"][0]["variables"] == {"customer_name": "Ada", "plan": "gold"}
    assert [row["line_number"] for row in page["results"]] == [3]
    assert member.get(f"/api/v1/batches/{batch_id}/rows/?status=nope").status_code == 400


# The analysis columns of a line whose call was not analysed (tests/calls/
# test_batch_report_analysis.py fills them).
NO_ANALYSIS = ["", "", ""]


def test_the_report_has_one_line_per_input_row_in_input_order(member, batch_agent, alpha):
    batch_id = upload(member, batch_agent).json()["id"]
    with alpha():
        row = BatchRow.objects.get(batch_id=batch_id, line_number=2)
        calls = [
            Call.objects.create(
                direction="outbound",
                from_number="+14155550100",
                to_number=ADA,
                provider="twilio",
                status=status,
                end_reason=reason,
                duration_seconds=duration,
                batch_id=batch_id,
                batch_row=row,
            )
            for status, reason, duration in (
                ("no_answer", "no_answer", None),
                ("completed", "completed", 42),
            )
        ]
        BatchRow.objects.filter(pk=row.pk).update(
            status="completed", outcome="answered", attempts=2, last_call=calls[1]
        )

    response = member.get(f"/api/v1/batches/{batch_id}/report.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert lines == [
        [
            "line_number",
            "phone",
            "customer_name",
            "plan",
            "status",
            "outcome",
            "attempts",
            "call_ids",
            "duration_seconds",
            "end_reason",
            "phone_number",
            "error",
            "analysis_summary",
            "analysis_sentiment",
            "analysis_goal_reached",
        ],
        [
            "2",
            ADA,
            "Ada",
            "gold",
            "completed",
            "answered",
            "2",
            f"{calls[0].pk} {calls[1].pk}",
            "42",
            "completed",
            ADA,
            "",
            *NO_ANALYSIS,
        ],
        [
            "3",
            "nope",
            "Bob",
            "silver",
            "invalid",
            "",
            "0",
            "",
            "",
            "",
            "",
            "'nope' is not a valid phone number.",
            *NO_ANALYSIS,
        ],
        [
            "4",
            ADA,
            "Ada",
            "gold",
            "skipped",
            "",
            "0",
            "",
            "",
            "",
            ADA,
            "Duplicate of line 2.",
            *NO_ANALYSIS,
        ],
    ]
    assert (
        member.get(f"/api/v1/batches/{batch_id}/report.csv", HTTP_ACCEPT="text/csv").status_code
        == 200
    )


def test_the_report_streams_a_large_batch_in_chunks(member, batch_agent, alpha):
    text = "phone,customer_name\n" + "".join(f"+1415556{i:04d},N{i}\n" for i in range(4500))
    batch_id = upload(member, batch_agent, text=text).json()["id"]

    response = member.get(f"/api/v1/batches/{batch_id}/report.csv")
    chunks = list(response.streaming_content)

    assert len(chunks) == 3  # 2,000 rows a chunk
    lines = b"".join(chunks).decode().splitlines()
    assert len(lines) == 4501
    assert lines[1].startswith("2,+14155560000,") and lines[-1].startswith("4501,+14155564499,")


def test_progress_shows_the_current_rate_and_an_estimated_end(member, batch_agent, alpha):
    text = "phone,customer_name\n" + "".join(f"+1415556{i:04d},N{i}\n" for i in range(100))
    batch_id = upload(member, batch_agent, text=text).json()["id"]
    now = timezone.now()
    with alpha():
        # Running for ten minutes; 30 calls ended in the last five.
        done = list(BatchRow.objects.filter(batch_id=batch_id).order_by("line_number")[:40])
        BatchRow.objects.filter(pk__in=[r.pk for r in done[:10]]).update(
            status="completed", updated_at=now - dt.timedelta(minutes=8)
        )
        BatchRow.objects.filter(pk__in=[r.pk for r in done[10:40]]).update(
            status="failed", updated_at=now - dt.timedelta(minutes=1)
        )
        Batch.objects.filter(pk=batch_id).update(
            status=BatchStatus.RUNNING,
            started_at=now - dt.timedelta(minutes=10),
            queued_count=60,
            completed_count=10,
            failed_count=30,
        )

    progress = member.get(f"/api/v1/batches/{batch_id}/").json()["progress"]

    assert (progress["finished"], progress["remaining"], progress["percent"]) == (40, 60, 40.0)
    assert progress["rate_per_minute"] == pytest.approx(6.0, rel=0.01)  # 30 in 5 minutes
    assert progress["eta_seconds"] == pytest.approx(600, abs=2)  # 60 rows at 6 a minute
    assert progress["estimated_finish_at"]


def test_settings_change_while_draft_or_paused_not_while_running(member, batch_agent, alpha):
    batch_id = upload(member, batch_agent).json()["id"]
    url = f"/api/v1/batches/{batch_id}/"

    changed = member.patch(
        url, {"name": "June", "calls_per_second": 0.5, "window_start": "10:00"}, format="json"
    )
    unknown = member.patch(url, {"agent_id": 3}, format="json")
    with alpha():
        Batch.objects.filter(pk=batch_id).update(status=BatchStatus.PAUSED)
    paused = member.patch(url, {"max_attempts": 3}, format="json")
    with alpha():
        Batch.objects.filter(pk=batch_id).update(status=BatchStatus.RUNNING)
    running = member.patch(url, {"max_attempts": 2}, format="json")

    assert changed.status_code == 200, changed.content
    assert (changed.json()["name"], changed.json()["calls_per_second"]) == ("June", 0.5)
    assert changed.json()["window_start"] == "10:00:00"
    assert unknown.status_code == 400  # the agent is fixed at creation
    assert error_of(unknown)["details"]["fields"] == {"agent_id": ["This field cannot be changed."]}
    assert paused.status_code == 200 and paused.json()["max_attempts"] == 3
    assert running.status_code == 409
    assert error_of(running)["code"] == "batch_not_editable"
    assert error_of(running)["details"] == {"status": "running"}


def test_delete_refuses_a_running_batch_and_removes_a_draft_keeping_its_calls(
    member, batch_agent, alpha
):
    batch_id = upload(member, batch_agent).json()["id"]
    with alpha():
        row = BatchRow.objects.get(batch_id=batch_id, line_number=2)
        call = Call.objects.create(
            direction="outbound",
            from_number="+14155550100",
            to_number=ADA,
            provider="twilio",
            status="completed",
            batch_id=batch_id,
            batch_row=row,
        )
        Batch.objects.filter(pk=batch_id).update(status=BatchStatus.RUNNING)
    running = member.delete(f"/api/v1/batches/{batch_id}/")
    with alpha():
        Batch.objects.filter(pk=batch_id).update(status=BatchStatus.CANCELED)
    canceled = member.delete(f"/api/v1/batches/{batch_id}/")

    assert running.status_code == 409
    assert error_of(running)["code"] == "batch_not_deletable"
    assert canceled.status_code == 204
    with alpha():
        assert not Batch.objects.filter(pk=batch_id).exists()
        assert not BatchRow.objects.filter(batch_id=batch_id).exists()
        call.refresh_from_db()
        assert (call.batch_id, call.batch_row_id) == (None, None)


def test_the_list_filters_by_status(member, batch_agent, alpha):
    first = upload(member, batch_agent).json()["id"]
    upload(member, batch_agent)
    with alpha():
        Batch.objects.filter(pk=first).update(status=BatchStatus.PAUSED)

    listed = member.get("/api/v1/batches/?status=paused").json()

    assert [item["id"] for item in listed["results"]] == [first]
    assert listed["results"][0]["counts"]["total"] == 3
