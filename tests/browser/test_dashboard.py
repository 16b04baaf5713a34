"""The dashboard in a browser: its figures, the chart drawn by the theme's Chart.js, the
running batch's live bar, at 1280x800 and at 390 px wide; a viewer sees no write button; a new
organization is told what to do next. No console errors (the page fixture checks)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from agents.services import agent_create
from calls import services
from calls.models import Batch, BatchStatus, Call
from organizations.models import Role
from tests.browser.axe import axe_check
from tests.browser.conftest import SCREENSHOTS, log_in, make_admin

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("committed_db")]


def call(at: dt.datetime, status: str, **fields) -> Call:
    return Call.objects.create(
        direction="outbound",
        from_number="+14155550100",
        to_number="+14155550199",
        provider="twilio",
        status=status,
        created_at=at,
        **fields,
    )


def seed(org) -> Batch:
    """A few days of calls, one in progress, a running batch."""
    with tenant_context(org):
        agent = agent_create(name="Front desk", system_prompt="Hello {{name}}.")
        number = services.phone_number_create(number="+14155550100", agent_id=agent.pk)
        now = timezone.now()
        for days_ago in range(6):
            at = now - dt.timedelta(days=days_ago, minutes=5)
            for _ in range(days_ago % 3 + 1):
                call(
                    at,
                    "completed",
                    agent=agent,
                    duration_seconds=95,
                    cost=Decimal("0.03"),
                    cost_currency="USD",
                )
            call(at, "no_answer", agent=agent)
            call(at, "completed", agent=agent, end_reason="voicemail", duration_seconds=20)
        call(now, "in_progress", agent=agent, phone_number=number, answered_at=now)
        return Batch.objects.create(
            name="December renewals",
            agent=agent,
            from_number=number,
            status=BatchStatus.RUNNING,
            total_count=40,
            queued_count=30,
            completed_count=10,
            started_at=now - dt.timedelta(minutes=3),
        )


def test_the_dashboard_shows_the_figures_and_the_chart(admin_page, alpha):
    page = admin_page
    batch = seed(alpha)

    page.goto("/admin/")
    board = page.locator("[data-dashboard]")
    expect(board.locator('[data-tile="calls_today"] .dashboard-tile-value')).to_have_text("4")
    expect(board.locator('[data-tile="active_calls"] .dashboard-tile-value')).to_have_text("1")
    expect(board.locator('[data-tile="cost"] .dashboard-tile-value')).not_to_have_text("—")
    expect(board.locator('[data-outcome="answered"] .dashboard-outcome-count')).to_contain_text(
        "12"
    )
    # The theme's Chart.js drew the stacked bars: one series per outcome, a bar per day.
    canvas = board.locator("canvas.chart")
    expect(canvas).to_be_visible()
    chart = page.wait_for_function(
        """() => {
            const chart = Chart.getChart(document.querySelector('canvas.chart'));
            return chart && {series: chart.data.datasets.length, days: chart.data.labels.length,
                             stacked: chart.options.scales.x.stacked};
        }"""
    ).json_value()
    assert chart == {"series": 7, "days": 14, "stacked": True}
    assert canvas.evaluate("el => el.height") > 100
    # The running batch's bar is the batch pages' own, and polls its endpoint.
    bar = board.locator(f'[data-batch="{batch.pk}"] [data-batch-progress]')
    expect(bar.locator('[data-field="summary"]')).to_have_text("25.0% done: 10 of 40 rows")
    with page.expect_response(lambda r: f"/admin/calls/batch/{batch.pk}/progress/" in r.url):
        pass
    expect(board.get_by_text("Front desk").first).to_be_visible()
    axe_check(page)

    # A phone: one column, nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(canvas).to_be_visible()
    page.wait_for_timeout(300)  # Chart.js resizes on the next frame
    overflow = board.evaluate("el => el.scrollWidth - el.clientWidth")
    assert overflow <= 1, overflow
    tiles = [board.locator(".dashboard-tile").nth(n).bounding_box() for n in range(5)]
    assert tiles[0]["y"] == tiles[1]["y"] < tiles[2]["y"]  # two figures a row
    chart_box = canvas.bounding_box()
    assert chart_box["width"] > 300 and chart_box["x"] + chart_box["width"] <= 390
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "test_dashboard_390px.png"), full_page=True)
    axe_check(page)
    page.set_viewport_size({"width": 1280, "height": 800})


def test_a_viewer_sees_figures_and_no_write_button(page, alpha):
    seed(alpha)
    log_in(page, make_admin(alpha, Role.VIEWER), host="alpha.localhost")

    page.goto("/admin/")
    board = page.locator("[data-dashboard]")
    expect(board.locator('[data-tile="calls_today"] .dashboard-tile-value')).to_have_text("4")
    expect(board.locator("canvas.chart")).to_be_visible()
    assert board.locator('a[href*="/add/"], button, form').count() == 0


def test_a_new_organization_is_told_what_to_do_next(admin_page):
    page = admin_page

    page.goto("/admin/")
    empty = page.locator(".dashboard-empty")
    expect(empty).to_contain_text("No calls yet")
    expect(empty).to_contain_text("Create an agent, then place a test call")
    expect(page.locator("[data-dashboard]")).to_contain_text("No calls in the last 14 days")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "test_dashboard_empty.png"), full_page=True)
    axe_check(page)
    empty.get_by_role("link", name="Create an agent").click()
    page.wait_for_url("**/admin/agents/agent/add/")
