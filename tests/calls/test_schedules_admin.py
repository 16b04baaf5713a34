"""The schedule admin on an organization's domain: the editor creates one-time and recurring
schedules through the services (their errors on the field they name), the preview endpoint the
editor's script reads as the operator types, the next five runs and recent runs on a
schedule's page, pause / resume / run-now, and roles (viewers read)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from calls.models import ScheduledCall

pytestmark = pytest.mark.django_db

BASE = "/admin/calls/scheduledcall/"


def admin_client(org, make_member, role):
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org, role))
    return client


@pytest.fixture
def member(org_a, make_member):
    return admin_client(org_a, make_member, "member")


@pytest.fixture
def viewer(org_a, make_member):
    return admin_client(org_a, make_member, "viewer")


@pytest.fixture
def agent(alpha, make_agent, make_number, telephony_settings):
    with alpha():
        agent = make_agent(name="Reminder")
        make_number(agent=agent)
    return agent


def form(agent, **fields):
    data = {
        "name": "Weekly check-in",
        "agent": str(agent.pk),
        "phone_number": "+14155550199",
        "batch": "",
        "variables": "{}",
        "scheduled_time": "",
        "cron_expression": "",
        "timezone": "America/New_York",
        "start_date": "",
        "end_date": "",
        "max_runs": "",
        "max_attempts": "2",
        "retry_delay_seconds": "600",
        "missed_policy": "run_within_grace",
        "missed_grace_seconds": "3600",
    }
    data.update(fields)
    return data


def test_a_member_creates_a_recurring_schedule_and_sees_its_next_five_runs(member, agent, alpha):
    page = member.get(f"{BASE}add/")
    assert page.status_code == 200
    assert "schedule_preview.js" in page.content.decode()
    assert "data-schedule-preview" in page.content.decode()

    response = member.post(f"{BASE}add/", form(agent, cron_expression="0 9 * * MON"))
    assert response.status_code == 302, response.content.decode()[:3000]
    with alpha():
        schedule = ScheduledCall.objects.get()
        assert (schedule.cron_expression, schedule.max_attempts) == ("0 9 * * MON", 2)
        assert schedule.next_run_at is not None and schedule.status == "active"

    html = member.get(f"{BASE}{schedule.pk}/change/").content.decode()
    assert "At 09:00, only on Monday" in html
    assert html.count("09:00 EST") + html.count("09:00 EDT") == 5  # the next five Mondays


def test_a_one_time_schedule_from_the_admin_reads_the_time_in_its_zone(member, agent, alpha):
    day = (timezone.now() + dt.timedelta(days=20)).strftime("%Y-%m-%d")
    response = member.post(f"{BASE}add/", form(agent, scheduled_time=f"{day} 14:00"))
    assert response.status_code == 302
    with alpha():
        schedule = ScheduledCall.objects.get()
        local = schedule.scheduled_time.astimezone(ZoneInfo("America/New_York"))
        assert local.strftime("%Y-%m-%d %H:%M") == f"{day} 14:00"


def test_a_service_error_is_shown_on_the_field_it_names(member, agent, alpha):
    response = member.post(f"{BASE}add/", form(agent, cron_expression="0 25 * * *"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "the hour field &#x27;25&#x27; is not valid" in html
    with alpha():
        assert not ScheduledCall.objects.exists()


def test_the_preview_endpoint_answers_as_the_operator_types(member, viewer):
    body = member.get(
        f"{BASE}preview/", {"cron_expression": "30 2 * * *", "timezone": "Asia/Kolkata"}
    ).json()
    assert body["description"] == "At 02:30" and body["timezone"] == "Asia/Kolkata"
    assert len(body["next_runs"]) == 5 and all("02:30 IST" in run for run in body["next_runs"])
    bad = member.get(f"{BASE}preview/", {"cron_expression": "0 9 * *"})
    assert bad.status_code == 400 and "has 4" in bad.json()["error"]
    assert viewer.get(f"{BASE}preview/", {"cron_expression": "0 9 * * *"}).status_code == 200


def test_pause_resume_and_run_now_actions(member, agent, alpha, twilio):
    member.post(f"{BASE}add/", form(agent, cron_expression="0 9 * * *"))
    with alpha():
        schedule = ScheduledCall.objects.get()

    def act(name):
        return member.post(BASE, {"action": name, "_selected_action": [str(schedule.pk)]})

    assert act("pause_selected").status_code == 302
    with alpha():
        assert ScheduledCall.objects.get().status == "paused"
    act("resume_selected")
    with alpha():
        assert ScheduledCall.objects.get().status == "active"
    act("run_selected_now")
    html = member.get(f"{BASE}{schedule.pk}/change/").content.decode()
    assert "Run now" in html and "All runs" in html


def test_a_viewer_reads_but_cannot_add_or_change(viewer, member, agent, alpha):
    member.post(f"{BASE}add/", form(agent, cron_expression="0 9 * * *"))
    with alpha():
        schedule = ScheduledCall.objects.get()
    assert viewer.get(BASE).status_code == 200
    assert viewer.get(f"{BASE}{schedule.pk}/change/").status_code == 200
    assert viewer.get(f"{BASE}add/").status_code == 403
    viewer.post(f"{BASE}{schedule.pk}/change/", form(agent, cron_expression="* * * * *"))
    with alpha():
        assert ScheduledCall.objects.get().cron_expression == "0 9 * * *"
