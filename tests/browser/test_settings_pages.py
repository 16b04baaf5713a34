"""Browser tests of the organization's settings pages (organizations.admin_console) and a phone
number's page: an owner changes the time zone and invites someone, at 1280x800 and at 390 px
wide; a viewer reads them with no write button; a number's page shows its carrier URLs with a
copy button and its rules within the screen."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from agents.services import agent_create
from calls import services as calls_services
from organizations.models import Invitation, Organization, Role
from organizations.services import invitation_create
from tests.browser.conftest import SCREENSHOTS, log_in, make_admin

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("committed_db")]

SETTINGS = "/admin/organizations/organization/"
MEMBERS = "/admin/organizations/organization/members/"


@pytest.fixture
def restore_settings(alpha):
    """The organization's row is not a tenant table: the test puts its settings back."""
    saved = Organization.objects.get(pk=alpha.pk)
    yield
    saved.save()


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, overflow


def _screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_an_owner_changes_the_time_zone_and_invites_someone(page, alpha, console, restore_settings):
    log_in(page, make_admin(alpha, Role.OWNER), host="alpha.localhost")

    # The sidebar's Settings area leads to the page.
    page.goto("/admin/")
    page.locator(f'nav a[href="{SETTINGS}"]').first.click()
    page.wait_for_url(f"**{SETTINGS}")

    # A refusal of the service shows on its field, the typed values kept.
    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#id_timezone_errors")).to_contain_text("IANA time zone")
    expect(page.get_by_label("Time zone")).to_have_value("Mars/Olympus")

    page.get_by_label("Time zone").fill("Europe/Paris")
    page.get_by_label("Calling window from").fill("08:30")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Paris")
    alpha.refresh_from_db()
    assert alpha.timezone == "Europe/Paris" and alpha.calling_window_start.hour == 8
    _screenshot(page, "test_settings_page_1280")

    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_role("button", name="Save settings")).to_be_visible()
    _no_sideways_scroll(page)
    _screenshot(page, "test_settings_page_390px")
    page.set_viewport_size({"width": 1280, "height": 800})

    # Invite someone as an admin; the invitation is listed, then revoked.
    page.get_by_role("link", name="Members and invitations").click()
    page.get_by_label("Email").fill("grace@example.test")
    page.locator("#id_role").select_option("admin")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to grace@example.test (admin).")).to_be_visible()
    row = page.locator('[data-invitation="grace@example.test"]')
    expect(row).to_contain_text("Admin")
    invitation = Invitation.objects.get(organization=alpha, email="grace@example.test")
    assert invitation.role == Role.ADMIN
    _screenshot(page, "test_members_page_1280")

    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_role("button", name="Send invitation")).to_be_visible()
    _no_sideways_scroll(page)
    _screenshot(page, "test_members_page_390px")
    page.set_viewport_size({"width": 1280, "height": 800})

    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("The invitation of grace@example.test was revoked.")).to_be_visible()
    expect(page.locator('[data-invitation="grace@example.test"]')).to_have_count(0)


def test_a_viewer_reads_the_settings_with_no_write_button(page, alpha):
    invitation_create(
        organization=alpha, email="pending@example.test", role="viewer", invited_by=None
    )
    log_in(page, make_admin(alpha, Role.VIEWER), host="alpha.localhost")

    page.goto(SETTINGS)
    expect(page.locator("[data-readonly]")).to_be_visible()
    expect(page.get_by_label("Time zone")).to_be_disabled()
    assert page.locator("#content-main button, #content-main [type=submit]").count() == 0

    page.goto(MEMBERS)
    expect(page.locator('[data-invitation="pending@example.test"]')).to_be_visible()
    assert page.locator("#content-main button, #content-main form").count() == 0
    _screenshot(page, "test_members_page_viewer")


def test_a_numbers_page_shows_its_carrier_urls_and_its_rules_fit(page, alpha, console):
    with tenant_context(alpha):
        agent = agent_create(name="Front desk", system_prompt="Answer the phone.")
        number = calls_services.phone_number_create(
            number="+14155550100",
            provider="twilio",
            agent_id=agent.pk,
            rules=[
                {
                    "name": "Weekday mornings",
                    "caller_prefix": "+1415",
                    "days_of_week": [0, 1, 2, 3, 4],
                    "start_time": dt.time(8, 0),
                    "end_time": dt.time(12, 0),
                    "agent_id": agent.pk,
                }
            ],
        )
    log_in(page, make_admin(alpha, Role.ADMIN), host="alpha.localhost")
    console.expect(r"No usable|credential")  # a warning of the number's carrier, not an error

    page.goto(f"/admin/calls/phonenumber/{number.pk}/change/")
    urls = page.locator("[data-carrier-urls]")
    expect(urls.locator('[data-url="voice"]')).to_contain_text("/telephony/")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    urls.locator('[data-copy="carrier-url-voice"]').click()
    expect(urls.locator('[data-copy="carrier-url-voice"]')).to_have_text("Copied")
    voice = urls.locator('[data-url="voice"]').inner_text()
    assert page.evaluate("() => navigator.clipboard.readText()") == voice
    expect(
        page.get_by_text("Weekday mornings")
        .or_(page.locator('input[value="Weekday mornings"]'))
        .first
    ).to_be_visible()
    overflow = page.locator("#rules-data").evaluate(
        "table => table.getBoundingClientRect().width"
        " - table.closest('.formset-wrapper').getBoundingClientRect().width"
    )
    assert overflow <= 2, f"the rules table is {overflow} px wider than its box at 1280"
    agent_width = page.locator("#rules-data .field-agent select").first.bounding_box()["width"]
    assert agent_width >= 110, agent_width  # the rule's agent stays readable
    _screenshot(page, "test_number_page_1280")

    page.set_viewport_size({"width": 390, "height": 844})
    expect(urls.locator('[data-copy="carrier-url-sms"]')).to_be_visible()
    box = urls.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 391
    _screenshot(page, "test_number_page_390px")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("link", name="Test a route").click()
    expect(page.get_by_label("Our number")).to_have_value("+14155550100")
