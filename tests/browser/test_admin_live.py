"""What only a browser proves about today's admin: the pages' own scripts run and change the
page without a reload (the batch's live progress bar, the schedule editor's preview), the
login page is styled and reports a wrong password, and no page logs a console error.

The data is committed (``committed_db``) and changed through the services while the page is
open, as the dialer and the carriers' callbacks change it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from agents.services import agent_create
from calls import services
from calls.models import Batch, BatchRow, BatchRowStatus, BatchStatus
from tests.browser.conftest import PASSWORD, make_admin
from tests.calls.batch_support import make_batch

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("committed_db")]


def finish_rows(batch: Batch, count: int) -> None:
    """Move ``count`` queued rows to completed the way the dispatcher and callbacks do."""
    ids = list(
        BatchRow.objects.filter(batch=batch, status=BatchRowStatus.QUEUED)
        .order_by("line_number")
        .values_list("pk", flat=True)[:count]
    )
    services.batch_rows_transition(
        batch_id=batch.pk,
        rows=BatchRow.objects.filter(pk__in=ids),
        from_status=BatchRowStatus.QUEUED,
        to_status=BatchRowStatus.COMPLETED,
    )


def test_the_batch_page_follows_the_rows_live_and_stops_polling_when_final(admin_page, alpha):
    page = admin_page
    with tenant_context(alpha):
        agent = agent_create(name="Caller", system_prompt="Hello {{name}}.")
        number = services.phone_number_create(number="+14155550100", agent_id=agent.pk)
        batch = make_batch(agent=agent, number=number, phones=4, name="June")
        Batch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.RUNNING, started_at=timezone.now() - dt.timedelta(minutes=1)
        )
    progress_url = f"/admin/calls/batch/{batch.pk}/progress/"
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if progress_url in r.url else None)

    page.goto(f"/admin/calls/batch/{batch.pk}/change/")
    box = page.locator("[data-batch-progress]")
    bar = box.locator("progress")
    expect(box.locator('[data-field="summary"]')).to_have_text("0.0% done: 0 of 4 rows")
    expect(box.locator('[data-field="queued"]')).to_have_text("4")
    assert bar.evaluate("el => el.value") == 0

    with tenant_context(alpha):
        finish_rows(batch, 1)
    # The page's script polls every 2 s while the batch runs: no reload.
    expect(box.locator('[data-field="summary"]')).to_have_text("25.0% done: 1 of 4 rows")
    expect(box.locator('[data-field="completed"]')).to_have_text("1")
    expect(box.locator('[data-field="queued"]')).to_have_text("3")
    assert bar.evaluate("el => el.value") == 25

    with tenant_context(alpha):
        finish_rows(batch, 3)
        Batch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.COMPLETED, finished_at=timezone.now()
        )
    expect(box.locator('[data-field="summary"]')).to_have_text("100.0% done: 4 of 4 rows")
    expect(box.locator('[data-field="completed"]')).to_have_text("4")
    expect(box).to_have_attribute("data-final", "true")
    assert bar.evaluate("el => el.value") == 100
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1

    # Final: the script asks nothing more (it polled every 2 s while the batch ran).
    asked = len(polls)
    page.wait_for_timeout(3000)
    assert len(polls) == asked, polls


def test_the_schedule_editor_previews_the_next_runs_as_the_operator_types(
    admin_page, alpha, console
):
    page = admin_page
    page.goto("/admin/calls/scheduledcall/add/")
    preview = page.locator(".schedule-preview")
    zone = page.locator('[name="timezone"]')
    zone.fill("Asia/Kolkata")

    page.locator('[name="cron_expression"]').press_sequentially("30 2 * * 1")
    expect(preview.locator("strong")).to_have_text("At 02:30, only on Monday (Asia/Kolkata)")
    runs = preview.locator("div")
    expect(runs).to_have_count(6)  # "Next runs:" and five runs
    expect(runs.first).to_have_text("Next runs:")
    texts = runs.all_inner_texts()[1:]
    assert all(re.fullmatch(r"Mon \d{4}-\d\d-\d\d 02:30 IST", text) for text in texts), texts
    assert texts == sorted(texts) and len(set(texts)) == 5

    # An expression with a field missing: the endpoint's 400 is shown as the error.
    console.expect(r"/admin/calls/scheduledcall/preview/\?cron_expression=0\+9\+\*\+\*&")
    page.locator('[name="cron_expression"]').fill("0 9 * *")
    expect(preview.locator("strong")).to_contain_text("has 4")
    expect(preview.locator("div")).to_have_count(0)
    assert preview.evaluate("el => getComputedStyle(el).color") == "rgb(186, 33, 33)"


def test_the_login_page_is_styled_and_reports_a_wrong_password(page, alpha):
    user = make_admin(alpha)
    page.goto("/admin/login/?next=/admin/")
    # The theme's stylesheets are served (whitenoise, no CDN): the log-in button is coloured.
    button = page.locator('#login-form [type="submit"]')
    expect(button).to_be_visible()
    assert button.evaluate("el => getComputedStyle(el).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert page.evaluate("() => document.styleSheets.length") >= 2

    page.fill('[name="username"]', user.email)
    page.fill('[name="password"]', "not the password")
    page.click('[type="submit"]')
    expect(page.get_by_text("Please enter the correct")).to_be_visible()
    assert "/admin/login/" in page.url

    page.fill('[name="password"]', PASSWORD)
    page.click('[type="submit"]')
    page.wait_for_url(re.compile(r"/admin/$"))
    expect(page.locator("#site-name")).to_contain_text("Alpha")
    expect(page.locator("#logout-form")).to_contain_text("Log out")


# pytest-django creates the test database only when a collected test uses ``db``; this one
# does (for the module's committed_db tests), and checks the host the browser is sent to.
@pytest.mark.django_db
def test_alpha_is_served_on_the_domain_the_browser_asks_for():
    from organizations.models import Domain

    assert Domain.objects.filter(tenant__slug="alpha", domain="alpha.localhost").exists()
