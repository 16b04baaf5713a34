"""The schedules API: create one-time and recurring schedules (the examples of the service
description), a naive time read in the schedule's zone, the 400s (a past time, an invalid cron
expression naming the field and the problem, an unknown time zone) in the one error shape,
roles, filters and pagination, change, pause/resume/run-now/cancel, runs, next runs and the
preview of an unsaved expression; schedules of batches."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from calls.models import ScheduledCall, ScheduledRun
from organizations.models import ScheduleIndexEntry
from tests.calls.batch_support import make_batch

pytestmark = pytest.mark.django_db

CALLEE = "+14155550199"


@pytest.fixture
def member(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "member"))


@pytest.fixture
def viewer(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "viewer"))


@pytest.fixture
def caller(alpha, make_agent, make_number, telephony_settings):
    """alpha's agent with +14155550100 assigned to it (its caller id)."""
    with alpha():
        agent = make_agent(name="Reminder")
        number = make_number(agent=agent)
    return agent, number


def error_of(response, status=400):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


def future(days=30, fmt="%Y-%m-%d %H:%M:%S"):
    return (timezone.now() + dt.timedelta(days=days)).strftime(fmt)


def create(client, caller, **fields):
    agent, _number = caller
    payload = {"agent_id": agent.pk, "phone_number": CALLEE, **fields}
    return client.post("/api/v1/schedules/", payload, format="json")


# --- creating -------------------------------------------------------------------------------------


def test_a_one_time_call_is_scheduled_with_a_naive_time_read_in_its_zone(member, caller, alpha):
    local = future(days=40)
    response = create(member, caller, scheduled_time=local, timezone="America/New_York")

    assert response.status_code == 201, response.content
    body = response.json()
    wall = dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo("America/New_York"))
    instant = wall.astimezone(dt.UTC)
    assert (
        body["scheduled_time"] == body["next_run_at"] == instant.isoformat().replace("+00:00", "Z")
    )
    assert (body["recurring"], body["status"], body["timezone"]) == (
        False,
        "active",
        "America/New_York",
    )
    assert body["from_number"] == "+14155550100"
    assert body["description"].startswith("Once, on ")
    with alpha():
        schedule = ScheduledCall.objects.get(pk=body["id"])
        entry = ScheduleIndexEntry.objects.get(schedule_id=schedule.pk, schema_name="org_alpha")
        assert entry.next_run_at == schedule.next_run_at and entry.active


def test_an_explicit_offset_wins_over_the_time_zone(member, caller):
    day = future(days=40, fmt="%Y-%m-%d")
    body = create(
        member, caller, scheduled_time=f"{day}T14:00:00+01:00", timezone="America/New_York"
    ).json()
    assert body["scheduled_time"] == f"{day}T13:00:00Z"


def test_a_recurring_call_is_scheduled_with_a_cron_expression(member, caller):
    response = create(member, caller, cron_expression="0 9 * * MON", timezone="Europe/London")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["recurring"] is True and body["description"] == "At 09:00, only on Monday"
    next_run = dt.datetime.fromisoformat(body["next_run_at"])
    local = next_run.astimezone(ZoneInfo("Europe/London"))
    assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)


def test_a_time_in_the_past_is_a_400(member, caller):
    error = error_of(create(member, caller, scheduled_time="2020-01-01 09:00:00"))
    assert error["code"] == "schedule_time_in_past"
    assert "scheduled_time" in error["details"]["fields"]


def test_an_invalid_cron_expression_is_a_400_naming_the_field_and_the_problem(member, caller):
    error = error_of(create(member, caller, cron_expression="0 25 * * MON"))
    assert error["code"] == "invalid_cron_expression"
    assert "cron_expression" in error["message"] and "hour field '25'" in error["message"]
    assert list(error["details"]["fields"]) == ["cron_expression"]


def test_an_unknown_time_zone_is_a_400(member, caller):
    error = error_of(create(member, caller, cron_expression="0 9 * * *", timezone="Moon/Base"))
    assert error["code"] == "unknown_timezone"
    assert "timezone" in error["details"]["fields"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"scheduled_time": "x", "cron_expression": "0 9 * * *"}, "scheduled_time"),
        ({}, "cron_expression"),
        ({"scheduled_time": "tomorrow"}, "scheduled_time"),
        ({"cron_expression": "0 9 * * *", "phone_number": "12"}, "phone_number"),
        ({"cron_expression": "0 9 * * *", "max_runs": 0}, "max_runs"),
        ({"cron_expression": "0 9 * * *", "missed_policy": "burst"}, "missed_policy"),
        ({"cron_expression": "0 9 * * *", "retry_outcomes": ["answered"]}, "retry_outcomes"),
        ({"cron_expression": "0 9 * * *", "end_date": "2020-01-01"}, "end_date"),
        ({"cron_expression": "0 9 * * *", "from_number": "+14155550999"}, "from_number"),
    ],
)
def test_bad_fields_are_400s_naming_them(member, caller, fields, named):
    error = error_of(create(member, caller, **fields))
    assert named in error["details"]["fields"], error


def test_a_missing_agent_is_a_404(member, caller):
    response = member.post(
        "/api/v1/schedules/",
        {"agent_id": 987654, "phone_number": CALLEE, "cron_expression": "0 9 * * *"},
        format="json",
    )
    assert error_of(response, 404)["code"] == "agent_not_found"


# --- roles, list, filters ------------------------------------------------------------------------


def test_a_viewer_reads_and_previews_but_cannot_create_or_control(viewer, member, caller):
    schedule_id = create(member, caller, cron_expression="*/30 * * * *").json()["id"]
    assert create(viewer, caller, cron_expression="0 9 * * *").status_code == 403
    for method, path in [
        ("patch", f"{schedule_id}/"),
        ("delete", f"{schedule_id}/"),
        ("post", f"{schedule_id}/pause/"),
        ("post", f"{schedule_id}/resume/"),
        ("post", f"{schedule_id}/run-now/"),
    ]:
        assert (
            getattr(viewer, method)(f"/api/v1/schedules/{path}", {}, format="json").status_code
            == 403
        )
    for path in ["", f"{schedule_id}/", f"{schedule_id}/runs/", f"{schedule_id}/next-runs/"]:
        assert viewer.get(f"/api/v1/schedules/{path}").status_code == 200, path
    preview = viewer.post(
        "/api/v1/schedules/preview/", {"cron_expression": "0 9 * * *"}, format="json"
    )
    assert preview.status_code == 200


def test_the_list_filters_and_paginates(member, caller):
    recurring = create(member, caller, cron_expression="0 9 * * *").json()["id"]
    once = create(member, caller, scheduled_time=future()).json()["id"]
    member.post(f"/api/v1/schedules/{once}/pause/")

    def ids(query):
        response = member.get(f"/api/v1/schedules/?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids("recurring=true") == [recurring]
    assert ids("recurring=false") == [once]
    assert ids("status=paused") == [once]
    assert sorted(ids("status=active&status=paused")) == sorted([recurring, once])
    page = member.get("/api/v1/schedules/?page_size=1").json()
    assert page["count"] == 2 and len(page["results"]) == 1


# --- change and control ---------------------------------------------------------------------------


def test_a_change_computes_the_next_run_again(member, caller):
    schedule = create(member, caller, cron_expression="0 9 * * *", timezone="UTC").json()
    response = member.patch(
        f"/api/v1/schedules/{schedule['id']}/",
        {"cron_expression": "30 18 * * *", "name": "Evening"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "Evening" and body["description"] == "At 18:30"
    assert body["next_run_at"].endswith("T18:30:00Z")
    error = error_of(
        member.patch(
            f"/api/v1/schedules/{schedule['id']}/", {"cron_expression": "bad"}, format="json"
        )
    )
    assert error["code"] == "invalid_cron_expression"


def test_pause_resume_and_cancel(member, caller):
    schedule_id = create(member, caller, cron_expression="0 9 * * *").json()["id"]
    base = f"/api/v1/schedules/{schedule_id}/"
    assert member.post(base + "pause/").json()["status"] == "paused"
    assert error_of(member.post(base + "pause/"), 409)["code"] == "schedule_status_conflict"
    assert member.get(base + "next-runs/").json()["next_runs"] == []
    assert member.post(base + "resume/").json()["status"] == "active"
    assert len(member.get(base + "next-runs/?count=3").json()["next_runs"]) == 3
    assert member.delete(base).status_code == 204
    assert member.get(base).json()["status"] == "canceled"
    assert error_of(member.delete(base), 409)["code"] == "schedule_status_conflict"
    assert error_of(member.post(base + "resume/"), 409)["code"] == "schedule_status_conflict"


def test_run_now_makes_a_run_with_its_call(member, caller, twilio):
    schedule_id = create(member, caller, cron_expression="0 9 * * *").json()["id"]
    response = member.post(f"/api/v1/schedules/{schedule_id}/run-now/")
    assert response.status_code == 201, response.content
    run = response.json()
    assert (run["trigger"], run["status"], run["attempts"]) == ("manual", "in_progress", 1), run
    assert run["call_ids"] == [run["call_id"]]
    runs = member.get(f"/api/v1/schedules/{schedule_id}/runs/").json()
    assert [r["id"] for r in runs["results"]] == [run["id"]]
    assert member.get(f"/api/v1/calls/?schedule_id={schedule_id}").json()["count"] == 1


def test_next_runs_and_the_preview(member, caller):
    schedule_id = create(
        member, caller, cron_expression="30 2 * * *", timezone="America/New_York"
    ).json()["id"]
    body = member.get(f"/api/v1/schedules/{schedule_id}/next-runs/?count=5").json()
    assert body["timezone"] == "America/New_York" and body["description"] == "At 02:30"
    assert len(body["next_runs"]) == 5
    assert all(local[11:16] in ("02:30", "03:00") for local in body["next_runs_local"])
    assert error_of(member.get(f"/api/v1/schedules/{schedule_id}/next-runs/?count=99"))

    preview = member.post(
        "/api/v1/schedules/preview/",
        {"cron_expression": "0 9 * * MON", "timezone": "Asia/Kolkata", "count": 2},
        format="json",
    )
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["description"] == "At 09:00, only on Monday"
    assert [local[10:] for local in body["next_runs_local"]] == ["T09:00:00+05:30"] * 2
    assert ScheduledCall.objects.count() == 1  # the preview saves nothing
    error = error_of(
        member.post("/api/v1/schedules/preview/", {"cron_expression": "0 9 * * * *"}, format="json")
    )
    assert error["code"] == "invalid_cron_expression" and "has 6" in error["message"]


# --- batches --------------------------------------------------------------------------------------


def test_a_batch_is_scheduled_once_or_on_a_cron_expression(member, caller, alpha):
    agent, number = caller
    with alpha():
        batch = make_batch(agent=agent, number=number, phones=2)
    once = member.post(
        "/api/v1/schedules/", {"batch_id": batch.pk, "scheduled_time": future()}, format="json"
    )
    assert once.status_code == 201, once.content
    assert (once.json()["batch_id"], once.json()["phone_number"]) == (batch.pk, "")
    weekly = member.post(
        "/api/v1/schedules/",
        {"batch_id": batch.pk, "cron_expression": "0 9 * * MON"},
        format="json",
    )
    assert weekly.status_code == 201, weekly.content
    both = member.post(
        "/api/v1/schedules/",
        {"batch_id": batch.pk, "phone_number": CALLEE, "cron_expression": "0 9 * * MON"},
        format="json",
    )
    assert set(error_of(both)["details"]["fields"]) == {"phone_number", "batch_id"}
    missing = member.post(
        "/api/v1/schedules/", {"batch_id": 987654, "cron_expression": "0 9 * * *"}, format="json"
    )
    assert error_of(missing, 404)["code"] == "batch_not_found"
    assert ScheduledRun.objects.count() == 0
