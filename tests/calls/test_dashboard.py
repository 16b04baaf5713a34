"""The dashboard's figures (calls.selectors.dashboard): today, this week and per day in the
organization's time zone, outcomes as a batch row would name them, cost per currency, what is
live now; another organization's calls never counted; a bounded number of queries."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django_tenants.utils import tenant_context

from calls.models import Batch, BatchStatus, Call
from calls.selectors.dashboard import dashboard_get
from calls.services.batch_rows import batch_row_outcome_for_call
from tests.calls.telephony_support import OUR_NUMBER

pytestmark = pytest.mark.django_db

ZONE = ZoneInfo("America/New_York")
# A Wednesday, 10:00 in New York (15:00 UTC).
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ZONE)


def local(day: int, hour: int, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=ZONE)


def make_call(at: dt.datetime, status: str, **fields) -> Call:
    return Call.objects.create(
        direction=fields.pop("direction", "outbound"),
        from_number=OUR_NUMBER,
        to_number="+14155550199",
        provider="twilio",
        status=status,
        created_at=at,
        **fields,
    )


def usd(amount: str) -> dict:
    return {"cost": Decimal(amount), "cost_currency": "USD"}


@pytest.fixture
def new_york(org_a):
    org_a.timezone = "America/New_York"
    org_a.save(update_fields=["timezone"])
    return org_a


@pytest.fixture
def known_calls(new_york, org_b):
    with tenant_context(new_york):
        # Today (Wednesday, local).
        make_call(local(25, 9), "completed", duration_seconds=60, **usd("0.02"))
        make_call(local(25, 8), "completed", duration_seconds=120, **usd("0.03"))
        make_call(local(25, 7), "completed", end_reason="voicemail", duration_seconds=30)
        make_call(local(25, 6), "completed", answered_by="machine", duration_seconds=20)
        make_call(local(25, 5), "no_answer", end_reason="no_answer")
        make_call(local(25, 9), "in_progress")
        # 22:00 on Tuesday in New York is already Wednesday in UTC: it is yesterday here.
        make_call(dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC), "failed")
        # Monday: the week's first day.
        make_call(local(23, 0), "busy")
        make_call(local(23, 12), "completed", duration_seconds=90, **usd("0.05"))
        make_call(
            local(23, 13),
            "completed",
            duration_seconds=10,
            cost=Decimal("0.01"),
            cost_currency="EUR",
        )
        # Last week, inside the 14 days of the chart.
        make_call(local(22, 23), "canceled")
        make_call(local(16, 12), "completed", duration_seconds=300, **usd("0.10"))
        # Before the chart's window (the 12th is its first day): counted nowhere.
        make_call(local(11, 23), "completed", duration_seconds=600, **usd("1.00"))
    with tenant_context(org_b):
        for hour in range(1, 9):
            make_call(local(25, hour), "completed", duration_seconds=999, **usd("9.00"))
        make_call(local(25, 9), "ringing")
    return new_york


def test_today_counts_the_local_day_only(known_calls):
    with tenant_context(known_calls):
        board = dashboard_get(now=NOW)

    today = board.today
    assert today.calls == 6
    assert today.active == 1 and today.finished == 5
    assert today.outcomes == {
        "answered": 2,
        "voicemail": 2,
        "no_answer": 1,
        "busy": 0,
        "failed": 0,
        "canceled": 0,
    }
    assert today.answered_rate == pytest.approx(40.0)  # 2 answered of 5 ended
    assert today.average_duration_seconds == pytest.approx(90.0)  # answered ones only
    assert today.cost == {"USD": Decimal("0.05")}


def test_this_week_starts_on_monday_in_the_organizations_zone(known_calls):
    with tenant_context(known_calls):
        board = dashboard_get(now=NOW)

    week = board.week
    assert week.calls == 10  # today's 6, Tuesday night's failure, Monday's 3
    assert week.outcomes["answered"] == 4
    assert week.outcomes["failed"] == 1 and week.outcomes["busy"] == 1
    assert week.answered_rate == pytest.approx(100.0 * 4 / 9)
    assert week.average_duration_seconds == pytest.approx((60 + 120 + 90 + 10) / 4)
    assert week.cost == {"USD": Decimal("0.10"), "EUR": Decimal("0.01")}


def test_the_chart_has_every_day_of_its_window_by_outcome(known_calls):
    with tenant_context(known_calls):
        board = dashboard_get(now=NOW)

    assert [day.date for day in board.days] == [
        dt.date(2026, 11, 12) + dt.timedelta(days=n) for n in range(14)
    ]
    by_date = {day.date: day for day in board.days}
    assert by_date[dt.date(2026, 11, 25)].calls == 6
    assert by_date[dt.date(2026, 11, 25)].outcomes["active"] == 1
    assert by_date[dt.date(2026, 11, 24)].outcomes["failed"] == 1
    assert by_date[dt.date(2026, 11, 23)].outcomes == {
        "answered": 2,
        "voicemail": 0,
        "no_answer": 0,
        "busy": 1,
        "failed": 0,
        "canceled": 0,
        "active": 0,
    }
    assert by_date[dt.date(2026, 11, 22)].outcomes["canceled"] == 1
    assert by_date[dt.date(2026, 11, 16)].outcomes["answered"] == 1
    assert by_date[dt.date(2026, 11, 12)].calls == 0
    assert sum(day.calls for day in board.days) == board.window.calls == 12
    assert board.window.cost == {"USD": Decimal("0.20"), "EUR": Decimal("0.01")}


def test_a_longer_chart_reaches_older_calls(known_calls):
    with tenant_context(known_calls):
        board = dashboard_get(now=NOW, days=30)

    assert len(board.days) == 30
    assert board.window.calls == 13
    assert board.week.calls == 10  # the periods do not depend on the chart's length


def test_another_organizations_calls_are_never_counted(known_calls, org_b):
    with tenant_context(known_calls):
        alpha = dashboard_get(now=NOW)
    with tenant_context(org_b):
        beta = dashboard_get(now=NOW)

    assert alpha.active_call_count == 1
    assert [call.status for call in alpha.active_calls] == ["in_progress"]
    assert "9.00" not in str(alpha.today.cost)
    # Beta's day is in UTC: its calls at 01:00-09:00 New York time are all its Wednesday's.
    assert beta.today.calls == 9
    assert beta.today.outcomes["answered"] == 8
    assert beta.today.cost == {"USD": Decimal("72.00")}
    assert beta.active_call_count == 1
    assert [call.status for call in beta.active_calls] == ["ringing"]


def test_outcomes_are_what_a_batch_row_would_call_them(new_york):
    kinds = [
        ("completed", {}),
        ("completed", {"end_reason": "voicemail"}),
        ("completed", {"answered_by": "machine"}),
        ("completed", {"answered_by": "human", "end_reason": "transferred"}),
        ("no_answer", {}),
        ("busy", {}),
        ("failed", {}),
        ("canceled", {}),
    ]
    with tenant_context(new_york):
        calls = [make_call(local(25, 9), status, **fields) for status, fields in kinds]
        board = dashboard_get(now=NOW)

    expected = dict.fromkeys(board.today.outcomes, 0)
    for call in calls:
        expected[batch_row_outcome_for_call(call)] += 1
    assert board.today.outcomes == expected


def test_an_organization_without_calls_says_whether_it_has_an_agent(new_york, make_agent):
    with tenant_context(new_york):
        empty = dashboard_get(now=NOW)
        make_agent(name="Front desk")
        with_agent = dashboard_get(now=NOW)

    assert not empty.has_calls and not empty.has_agents
    assert empty.today.calls == 0 and empty.today.answered_rate is None
    assert empty.today.average_duration_seconds is None and empty.today.cost == {}
    assert not with_agent.has_calls and with_agent.has_agents


def test_old_calls_alone_still_count_as_having_calls(new_york):
    with tenant_context(new_york):
        make_call(local(1, 9, month=10), "completed")
        board = dashboard_get(now=NOW)

    assert board.has_calls and board.window.calls == 0


def test_running_and_paused_batches_are_live_running_first(new_york, make_agent, make_number):
    with tenant_context(new_york):
        agent = make_agent(name="Caller")
        number = make_number(agent=agent)

        def batch(name, status, started_hour):
            return Batch.objects.create(
                name=name,
                agent=agent,
                from_number=number,
                status=status,
                started_at=local(25, started_hour),
            )

        batch("Paused", BatchStatus.PAUSED, 9)
        batch("Old run", BatchStatus.RUNNING, 6)
        batch("New run", BatchStatus.RUNNING, 8)
        batch("Done", BatchStatus.COMPLETED, 9)
        batch("Draft", BatchStatus.DRAFT, 9)
        board = dashboard_get(now=NOW)

    assert [b.name for b in board.running_batches] == ["New run", "Old run", "Paused"]
    assert board.running_batch_count == 3


def test_the_queries_do_not_grow_with_the_calls_and_batches(
    new_york, make_agent, make_number, django_assert_max_num_queries
):
    with tenant_context(new_york):
        agent = make_agent(name="Caller")
        number = make_number(agent=agent)
        for n in range(30):
            make_call(
                local(20 + n % 6, 9),
                "in_progress" if n % 2 else "completed",
                agent=agent,
                phone_number=number,
                duration_seconds=n,
                **usd("0.01"),
            )
            Batch.objects.create(
                name=f"B{n}", agent=agent, from_number=number, status=BatchStatus.RUNNING
            )
        with django_assert_max_num_queries(5):
            board = dashboard_get(now=NOW)
            # What the page reads of each listed row is already loaded.
            for call in board.active_calls:
                str(call.agent), str(call.phone_number)
            for row in board.running_batches:
                str(row.agent)

    assert board.active_call_count == 15 and len(board.active_calls) == 10
    assert board.running_batch_count == 30 and len(board.running_batches) == 10


# --- the page (the admin index of the organization's domain) -----------------------------------


@pytest.fixture
def dashboard_settings(settings):
    settings.UNFOLD = {
        **settings.UNFOLD,
        "DASHBOARD_CALLBACK": "calls.admin_dashboard.dashboard_callback",
    }


def tile(page: str, name: str) -> str:
    """The figure a dashboard tile shows."""
    match = re.search(rf'data-tile="{name}".*?dashboard-tile-value">([^<]*)<', page, re.S)
    assert match, name
    return match.group(1).strip()


def console(org, make_member, role):
    from django.test import Client

    client = Client(HTTP_HOST=f"{org.slug}.localhost")
    client.force_login(make_member(org, role))
    return client


def test_the_dashboard_shows_the_figures_the_chart_and_what_is_live(
    dashboard_settings, org_a, make_member, make_agent, make_number
):
    with tenant_context(org_a):
        agent = make_agent(name="Front desk")
        number = make_number(agent=agent)
        now = dt.datetime.now(dt.UTC)
        make_call(now, "completed", agent=agent, duration_seconds=150, **usd("0.04"))
        make_call(now, "no_answer", agent=agent)
        live = make_call(now, "in_progress", agent=agent, phone_number=number)
        batch = Batch.objects.create(
            name="Renewals",
            agent=agent,
            from_number=number,
            status=BatchStatus.RUNNING,
            total_count=4,
            queued_count=3,
            completed_count=1,
            started_at=now,
        )
    admin = console(org_a, make_member, "admin")

    page = admin.get("/admin/").content.decode()

    assert tile(page, "calls_today") == "3"
    assert tile(page, "answered_rate") == "50%"  # one answered of two ended
    assert tile(page, "average_duration") == "2:30"
    assert tile(page, "cost") == "$0.04"
    assert tile(page, "active_calls") == "1"
    assert 'class="chart"' in page and "Calls per day by outcome" in page
    assert f'data-call="{live.pk}"' in page and "Front desk" in page
    assert f'data-batch="{batch.pk}"' in page and "Renewals" in page
    assert f"/admin/calls/batch/{batch.pk}/progress/" in page  # the live bar polls it
    assert "calls/batch_progress.js" in page
    assert "No calls yet" not in page


def test_the_chart_can_show_thirty_days(dashboard_settings, org_a, make_member):
    with tenant_context(org_a):
        make_call(dt.datetime.now(dt.UTC) - dt.timedelta(days=20), "completed")
    admin = console(org_a, make_member, "admin")

    fortnight = admin.get("/admin/").content.decode()
    month = admin.get("/admin/?days=30").content.decode()
    nonsense = admin.get("/admin/?days=9999").content.decode()

    assert "No calls in the last 14 days" in fortnight and 'class="chart"' not in fortnight
    assert "Outcomes, last 30 days" in month and 'class="chart"' in month
    assert "Outcomes, last 14 days" in nonsense


def test_a_new_organization_is_told_what_to_do_next(dashboard_settings, org_a, make_member):
    admin = console(org_a, make_member, "admin")

    page = admin.get("/admin/").content.decode()

    assert "No calls yet" in page
    assert "Create an agent" in page and "/admin/agents/agent/add/" in page


def test_a_viewer_sees_the_figures_and_no_write_button(
    dashboard_settings, org_a, make_member, make_agent
):
    with tenant_context(org_a):
        make_call(dt.datetime.now(dt.UTC), "completed", duration_seconds=60)
    viewer = console(org_a, make_member, "viewer")

    page = viewer.get("/admin/").content.decode()
    with tenant_context(org_a):
        Call.objects.all().delete()
    empty = viewer.get("/admin/").content.decode()

    assert tile(page, "calls_today") == "1" and tile(page, "answered_rate") == "100%"
    assert "/add/" not in page.split("data-dashboard")[1]
    assert "No calls yet" in empty and "ask an admin" in empty
    assert "/add/" not in empty.split("data-dashboard")[1]


def test_the_page_reads_a_bounded_number_of_queries(
    dashboard_settings, org_a, make_member, make_agent, make_number, django_assert_max_num_queries
):
    with tenant_context(org_a):
        agent = make_agent(name="Caller")
        number = make_number(agent=agent)
        now = dt.datetime.now(dt.UTC)
        for n in range(40):
            make_call(
                now - dt.timedelta(days=n % 14),
                "in_progress" if n % 4 == 0 else "completed",
                agent=agent,
                phone_number=number,
                duration_seconds=n,
                **usd("0.01"),
            )
        for n in range(12):
            Batch.objects.create(
                name=f"B{n}",
                agent=agent,
                from_number=number,
                status=BatchStatus.RUNNING,
                total_count=10,
                queued_count=10,
            )
    admin = console(org_a, make_member, "admin")
    admin.get("/admin/")

    # The session, the user, the role, the schema; then the dashboard's own five.
    with django_assert_max_num_queries(13):
        response = admin.get("/admin/")

    assert response.status_code == 200


def test_the_platform_admin_keeps_its_own_index(dashboard_settings, client):
    from tests.organizations.factories import UserFactory

    root = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(root)

    response = client.get("/admin/", HTTP_HOST="localhost")

    page = response.content.decode()
    assert response.status_code == 200
    assert "data-dashboard" not in page
    assert "/admin/organizations/organization/" in page


def test_active_calls_show_their_time_in_the_organizations_zone(
    dashboard_settings, new_york, make_member
):
    with tenant_context(new_york):
        live = make_call(dt.datetime.now(ZONE).replace(hour=4, minute=5), "ringing")
    page = console(new_york, make_member, "member").get("/admin/").content.decode()

    row = page.split(f'data-call="{live.pk}"')[1].split("</tr>")[0]
    assert ">04:05<" in row
    assert "Days and weeks in America/New_York" in page


def test_the_theme_draws_this_dashboard_on_the_admin_index():
    from django.conf import settings

    assert settings.UNFOLD["DASHBOARD_CALLBACK"] == "calls.admin_dashboard.dashboard_callback"


def test_the_demo_organization_has_figures_to_show(dashboard_settings, org_a, make_member):
    from calls.demo import DEMO_CALLS, demo_data_seed

    with tenant_context(org_a):
        demo_data_seed()
    page = console(org_a, make_member, "admin").get("/admin/").content.decode()

    assert "No calls yet" not in page and 'class="chart"' in page
    answered = sum(spec.status == "completed" for spec in DEMO_CALLS)
    assert re.search(rf'data-outcome="answered".*?dashboard-outcome-count">{answered} ', page, re.S)
    # (The demo's calls are from yesterday: on a Monday, this week's tiles are still empty.)
