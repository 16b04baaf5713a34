"""axe-core on each main page of the operator console, filled with the demo's sample data (as
`make run` seeds it), in the light and the dark colour scheme: no serious or critical
accessibility violation, and no console error. A screenshot of each page under
var/screenshots/ (accessibility_<page>_<scheme>.png).

The pages are walked in one test per scheme (one seed, one login): a failure lists every page's
violations at once, which is what fixing them needs."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from agents.models import Agent
from calls.demo import (
    AGENT_NAME,
    BATCH_NAME,
    DEMO_NUMBER,
    DOCUMENT_TITLE,
    KNOWLEDGE_BASE_NAME,
    demo_data_seed,
)
from calls.models import Batch, Call, PhoneNumber, ScheduledCall
from knowledge.models import Document, KnowledgeBase
from tests.browser.axe import axe_report, axe_violations
from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("committed_db")]


@pytest.fixture
def demo_pages(alpha, settings) -> dict[str, str]:
    """The demo's sample data in alpha, and the path of each main page that shows it."""
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the demo's document is ingested as it commits
    with tenant_context(alpha):
        demo_data_seed()
        agent = Agent.objects.get(name=AGENT_NAME)
        call = Call.objects.order_by("pk").first()
        batch = Batch.objects.get(name=BATCH_NAME)
        schedule = ScheduledCall.objects.order_by("pk").first()
        knowledge_base = KnowledgeBase.objects.get(name=KNOWLEDGE_BASE_NAME)
        document = Document.objects.get(title=DOCUMENT_TITLE)
        number = PhoneNumber.objects.get(number=DEMO_NUMBER)
    assert call is not None and schedule is not None
    return {
        "dashboard": "/admin/",
        "agents": "/admin/agents/agent/",
        "agent": f"/admin/agents/agent/{agent.pk}/change/",
        "calls": "/admin/calls/call/",
        "call": f"/admin/calls/call/{call.pk}/change/",
        "batches": "/admin/calls/batch/",
        "batch": f"/admin/calls/batch/{batch.pk}/change/",
        "schedules": "/admin/calls/scheduledcall/",
        "schedule": f"/admin/calls/scheduledcall/{schedule.pk}/change/",
        "knowledge_bases": "/admin/knowledge/knowledgebase/",
        "knowledge_base": f"/admin/knowledge/knowledgebase/{knowledge_base.pk}/change/",
        "document": f"/admin/knowledge/document/{document.pk}/change/",
        "phone_numbers": "/admin/calls/phonenumber/",
        "phone_number": f"/admin/calls/phonenumber/{number.pk}/change/",
        "not_found": "/admin/this-page-does-not-exist/",
    }


def check_pages(page, console, pages: dict[str, str], *, scheme: str = "light") -> dict[str, str]:
    """Each page's violations (none: not listed) in the ``scheme`` colour scheme, with a
    screenshot of each."""
    page.emulate_media(color_scheme=scheme)
    found = {}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, path in pages.items():
        if name.startswith("not_found"):
            # The answer's status, as the page and the browser's console report it.
            console.expect(r"404.*/this-page-does-not-exist/")
        page.goto(path)
        shot = SCREENSHOTS / f"accessibility_{name}_{scheme}.png"
        page.screenshot(path=str(shot), full_page=True)
        violations = axe_violations(page)
        if violations:
            found[name] = f"{name} ({path}):\n{axe_report(violations)}"
    return found


# Fifteen pages, each loaded, photographed and checked (1-4 s of axe each on a loaded machine).
@pytest.mark.timeout(600)
# The console follows the system's colour scheme (the theme's "auto"): both are checked.
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_console_pages_have_no_serious_accessibility_violation(
    admin_page, console, demo_pages, scheme
):
    found = check_pages(admin_page, console, demo_pages, scheme=scheme)
    assert not found, f"axe found serious or critical violations ({scheme}):\n" + "\n".join(
        found.values()
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_login_and_not_found_pages_have_no_serious_accessibility_violation(
    page, console, scheme
):
    found = check_pages(
        page,
        console,
        {
            "login": "/admin/login/?next=/admin/",
            "not_found_signed_out": "/this-page-does-not-exist/",
        },
        scheme=scheme,
    )
    assert not found, f"axe found serious or critical violations ({scheme}):\n" + "\n".join(
        found.values()
    )


@pytest.mark.django_db
def test_the_not_found_path_checked_is_a_not_found_answer(client):
    """The 404 page the checks look at is the real one (not a redirect to the login page).
    (Also what makes pytest-django create the test database when this module runs alone.)"""
    answer = client.get("/this-page-does-not-exist/", HTTP_HOST="alpha.localhost")
    assert answer.status_code == 404
