"""The console's one look, in a browser: the sidebar's areas and the organization's name on
every page, the main lists (with their empty states) at 1280x800 and at 390 px wide, no console
error, no page wider than a phone's screen. Each page is screenshotted under var/screenshots/.
And, without a browser, that the sidebar shows a role only the areas its role may open."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from organizations.models import Organization, Role
from tests.browser.conftest import SCREENSHOTS, make_admin

pytestmark = pytest.mark.browser

AREAS = [
    "Agents",
    "Calls",
    "Batches",
    "Schedules",
    "Knowledge",
    "Numbers",
    "Integrations",
    "Settings",
]
LISTS = {
    "agents": ("/admin/agents/agent/", "No agents yet"),
    "calls": ("/admin/calls/call/", "No calls yet"),
    "batches": ("/admin/calls/batch/", "No batches yet"),
    "schedules": ("/admin/calls/scheduledcall/", "No schedules yet"),
    "knowledge_bases": ("/admin/knowledge/knowledgebase/", "No knowledge bases yet"),
    "phone_numbers": ("/admin/calls/phonenumber/", "No phone numbers yet"),
}
PHONE = {"width": 390, "height": 844}


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"console_{name}.png"), full_page=True)


def _fits_the_screen(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.usefixtures("committed_db")
def test_every_main_list_has_the_sidebar_and_the_organization_and_fits_a_phone(admin_page):
    page = admin_page
    page.goto("/admin/")
    sidebar = page.locator("#nav-sidebar-apps")
    for area in AREAS:
        expect(sidebar.get_by_role("heading", name=area, exact=True)).to_be_visible()
    expect(sidebar.get_by_role("link", name=re.compile("Dashboard"))).to_be_visible()
    expect(page.locator("#site-name")).to_contain_text("Alpha")
    assert page.title().endswith("Alpha · voiceagents")
    assert (
        page.locator('link[rel="icon"]')
        .first.get_attribute("href")
        .endswith("voiceagents/favicon.svg")
    )

    for name, (path, empty) in LISTS.items():
        page.goto(path)
        # The page's sidebar link is the active one; an empty list says what to do next.
        active = sidebar.locator("a.active")
        expect(active).to_have_count(1)
        assert active.get_attribute("href") == path
        expect(page.get_by_role("heading", name=empty)).to_be_visible()
        _shot(page, f"{name}_1280")

    page.set_viewport_size(PHONE)
    for name, (path, empty) in LISTS.items():
        page.goto(path)
        expect(page.get_by_role("heading", name=empty)).to_be_visible()
        assert _fits_the_screen(page), f"{path} is wider than a phone's screen"
        _shot(page, f"{name}_390")

    # On a phone the sidebar is behind its button, and opens.
    page.goto("/admin/")
    expect(page.locator("#nav-sidebar-apps")).to_be_hidden()
    page.locator('#header-inner [x-on\\:click="sidebarMobileOpen = !sidebarMobileOpen"]').click()
    expect(page.locator("#nav-sidebar-apps")).to_be_visible()
    _shot(page, "sidebar_390")


@pytest.mark.usefixtures("committed_db")
def test_the_empty_state_offers_the_next_step_only_to_a_role_that_may_take_it(page, alpha):
    from tests.browser.conftest import log_in

    log_in(page, make_admin(alpha, Role.VIEWER), host="alpha.localhost")
    page.goto("/admin/agents/agent/")
    expect(page.get_by_role("heading", name="No agents yet")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Add agent"))).to_have_count(0)
    # A viewer reads the product's areas, not the admins' settings.
    sidebar = page.locator("#nav-sidebar-apps")
    expect(sidebar.get_by_role("link", name=re.compile("Members"))).to_be_visible()
    for hidden in ("Credentials", "Webhooks", "Audit events"):
        expect(sidebar.get_by_role("link", name=re.compile(hidden))).to_have_count(0)
    _shot(page, "agents_viewer_1280")


@pytest.mark.usefixtures("committed_db")
def test_the_hand_written_admin_pages_have_styled_forms(admin_page):
    page = admin_page
    for name, path in {
        "test_route": "/admin/calls/phonenumber/test-route/",
        "document_upload": "/admin/knowledge/document/upload/",
    }.items():
        page.goto(path)
        # The classic markup is drawn in the theme's colours (static/voiceagents/console.css):
        # bordered fields, a coloured submit button.
        field = page.locator("#content :is(select, input[type=text]):visible").first
        expect(field).to_be_visible()
        assert field.evaluate("el => getComputedStyle(el).borderTopWidth") == "1px"
        submit = page.locator('#content [type="submit"]').last
        assert submit.evaluate("el => getComputedStyle(el).backgroundColor") not in (
            "rgba(0, 0, 0, 0)",
            "rgb(255, 255, 255)",
        )
        _shot(page, f"{name}_1280")

    # The batch import (django-import-export's page) takes the theme's own form widgets.
    page.goto("/admin/calls/batch/import/")
    expect(page.locator('select[name="format"]')).to_have_class(re.compile("rounded-default"))
    expect(page.locator('select[name="agent"]')).to_have_class(re.compile("rounded-default"))
    _shot(page, "batch_import_1280")


def test_the_products_own_pages_share_the_look(page, browser_server, console):
    page.goto(f"http://localhost:{browser_server.port}/")
    expect(page.get_by_role("heading", name="voiceagents")).to_be_visible()
    assert page.locator('link[rel="icon"]').get_attribute("href").endswith("favicon.svg")
    assert page.evaluate("() => getComputedStyle(document.body).fontFamily").startswith("Inter")
    _shot(page, "landing_1280")

    console.expect(r"(HTTP 404: |404 \(Not Found\) at ).*/no-such-page/$")
    page.set_viewport_size(PHONE)
    page.goto("/no-such-page/")
    expect(page.get_by_role("heading", name="This page does not exist")).to_be_visible()
    assert _fits_the_screen(page)
    _shot(page, "not_found_390")


@pytest.mark.usefixtures("committed_db")
def test_the_platform_admin_has_the_look_without_an_organization(page, browser_server):
    from tests.browser.conftest import PASSWORD, log_in
    from tests.organizations.factories import UserFactory

    operator = UserFactory(password=PASSWORD, is_superuser=True, is_staff=True)
    log_in(page, operator, host="localhost")
    page.goto(f"http://localhost:{browser_server.port}/admin/")
    expect(page.locator("#site-name")).to_contain_text("voiceagents platform")
    # Its own applications, not an organization's areas (it has none).
    sidebar = page.locator("#nav-sidebar-apps")
    expect(sidebar.locator('a[href="/admin/organizations/organization/"]')).to_be_visible()
    expect(sidebar.get_by_role("heading", name="Batches", exact=True)).to_have_count(0)
    _shot(page, "platform_1280")


# Without a browser (it also makes pytest-django create the test database for this module).
@pytest.mark.django_db
def test_the_sidebar_lists_each_role_only_the_pages_its_role_may_open(make_member):
    alpha = Organization.objects.get(slug="alpha")
    links = {}
    for role in (Role.VIEWER, Role.ADMIN):
        client = Client(HTTP_HOST="alpha.localhost")
        client.force_login(make_member(alpha, role))
        html = client.get("/admin/").content.decode()
        sidebar = html[html.index('id="nav-sidebar-apps"') :]
        links[role] = set(re.findall(r'href="(/admin/[a-z_]+/[a-z_]+/)"', sidebar))
    settings_pages = {
        "/admin/integrations/providercredential/",
        "/admin/integrations/webhookendpoint/",
        "/admin/organizations/auditevent/",
    }
    assert settings_pages <= links[Role.ADMIN]
    assert not settings_pages & links[Role.VIEWER]
    assert "/admin/agents/agent/" in links[Role.VIEWER]
    assert links[Role.VIEWER] < links[Role.ADMIN]
