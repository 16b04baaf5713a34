"""A change made on an organization's admin change form reaches the database, and the update
service's own rules still hold for it. The admin's form writes the submitted values onto the
object before ``save_model`` runs, so a service that compared them with that same object would
see nothing changed (or, for a rule like "keep one owner", the wrong old value): each admin
hands its service something the service can compare with the stored row."""

from __future__ import annotations

import pytest
from django.test import Client

from agents.models import Agent, AgentVersion
from agents.services import agent_update
from calls.models import DoNotCallEntry, PhoneNumber, ScheduledCall
from calls.services import dnc_entry_create
from knowledge import services as knowledge
from knowledge.models import Document, KnowledgeBase
from organizations.models import Membership, User
from tests.calls import telephony_support

pytestmark = pytest.mark.django_db

# The calls tests' fixtures, registered here (as tests/calls/conftest.py does) and requested
# by name.
alpha = telephony_support.alpha
make_agent = telephony_support.make_agent
make_number = telephony_support.make_number
telephony_settings = telephony_support.telephony_settings

HOST = "alpha.localhost"


def browser(org, make_member, role: str) -> Client:
    client = Client(HTTP_HOST=HOST)
    client.force_login(make_member(org, role))
    return client


@pytest.fixture
def admin(org_a, make_member) -> Client:
    return browser(org_a, make_member, "admin")


def saved(response) -> None:
    assert response.status_code == 302, response.content.decode()[:3000]


# --- calls ----------------------------------------------------------------------------------------


def test_a_phone_numbers_settings_changed_in_the_admin_are_saved(
    admin, alpha, make_agent, make_number
):
    with alpha():
        front, sales = make_agent(name="Front desk"), make_agent(name="Sales")
        number = make_number(agent=front, friendly_name="Main")

    response = admin.post(
        f"/admin/calls/phonenumber/{number.pk}/change/",
        {
            "friendly_name": "Reception",
            "provider_id": "",
            "voice_enabled": "on",
            "agent": sales.pk,
            "fallback_action": "forward",
            "fallback_message": "",
            "fallback_forward_number": "+14155550177",
            "rules-TOTAL_FORMS": "1",
            "rules-INITIAL_FORMS": "0",
            "rules-MIN_NUM_FORMS": "0",
            "rules-MAX_NUM_FORMS": "1000",
            "rules-0-position": "0",
            "rules-0-name": "UK",
            "rules-0-agent": front.pk,
            "rules-0-caller_country": "gb",
            "rules-0-is_active": "on",
        },
    )

    saved(response)
    with alpha():
        number = PhoneNumber.objects.get(pk=number.pk)
        rules = [(r.name, r.caller_country, r.agent_id) for r in number.rules.all()]
    assert (number.friendly_name, number.agent_id, number.sms_enabled) == (
        "Reception",
        sales.pk,
        False,
    )
    assert (number.fallback_action, number.fallback_forward_number) == ("forward", "+14155550177")
    assert rules == [("UK", "GB", front.pk)]


def test_a_schedule_changed_in_the_admin_is_saved_with_its_next_run(
    org_a, make_member, alpha, make_agent, make_number, telephony_settings
):
    member = browser(org_a, make_member, "member")
    with alpha():
        agent = make_agent(name="Reminder")
        make_number(agent=agent)
    form = {
        "name": "Weekly check-in",
        "agent": str(agent.pk),
        "phone_number": "+14155550199",
        "batch": "",
        "variables": "{}",
        "scheduled_time": "",
        "cron_expression": "0 9 * * MON",
        "timezone": "America/New_York",
        "start_date": "",
        "end_date": "",
        "max_runs": "",
        "max_attempts": "2",
        "retry_delay_seconds": "600",
        "missed_policy": "run_within_grace",
        "missed_grace_seconds": "3600",
    }
    saved(member.post("/admin/calls/scheduledcall/add/", form))
    with alpha():
        schedule = ScheduledCall.objects.get()
    before = schedule.next_run_at

    changed = {**form, "name": "Friday check-in", "cron_expression": "0 9 * * FRI"}
    changed.update(phone_number="+14155550198", max_attempts="3", variables='{"plan": "gold"}')
    for name in ("agent", "batch"):
        changed.pop(name)  # not on the change form
    saved(member.post(f"/admin/calls/scheduledcall/{schedule.pk}/change/", changed))

    with alpha():
        schedule = ScheduledCall.objects.get(pk=schedule.pk)
    assert (schedule.name, schedule.cron_expression, schedule.phone_number) == (
        "Friday check-in",
        "0 9 * * FRI",
        "+14155550198",
    )
    assert (schedule.max_attempts, schedule.variables) == (3, {"plan": "gold"})
    assert schedule.next_run_at != before and schedule.next_run_at.weekday() == 4


def test_a_do_not_call_reason_changed_in_the_admin_is_saved(org_a, make_member, alpha):
    member = browser(org_a, make_member, "member")
    with alpha():
        entry = dnc_entry_create(number="+14155550101", reason="asked", source="admin")

    saved(
        member.post(
            f"/admin/calls/donotcallentry/{entry.pk}/change/",
            {"number": "+14155550101", "reason": "Asked twice, by email"},
        )
    )

    with alpha():
        entry = DoNotCallEntry.objects.get(pk=entry.pk)
    assert (entry.number, entry.reason) == ("+14155550101", "Asked twice, by email")


# --- knowledge ------------------------------------------------------------------------------------


def test_a_knowledge_bases_name_changed_in_the_admin_is_saved(admin, alpha):
    with alpha():
        kb = knowledge.knowledge_base_create(name="Support", description="")

    saved(
        admin.post(
            f"/admin/knowledge/knowledgebase/{kb.pk}/change/",
            {"name": "Manuals", "description": "Product manuals."},
        )
    )

    with alpha():
        kb = KnowledgeBase.objects.get(pk=kb.pk)
    assert (kb.name, kb.description) == ("Manuals", "Product manuals.")


def test_a_documents_title_changed_in_the_admin_is_saved(admin, alpha):
    with alpha():
        kb = knowledge.knowledge_base_create(name="Support")
        document = knowledge.document_add(
            knowledge_base=kb, title="Warranty", content="The warranty lasts two years."
        )

    saved(
        admin.post(
            f"/admin/knowledge/document/{document.pk}/change/",
            {"title": "Warranty terms", "metadata": '{"lang": "en"}'},
        )
    )

    with alpha():
        document = Document.objects.get(pk=document.pk)
        versions = document.versions.count()
    assert (document.title, document.metadata, versions) == ("Warranty terms", {"lang": "en"}, 1)


# --- agents ---------------------------------------------------------------------------------------


def test_an_agent_changed_in_the_admin_is_saved_as_a_new_version(admin, alpha, make_agent):
    with alpha():
        agent = make_agent(name="Front desk", system_prompt="Line one\n")
        agent = agent_update(agent=agent, data={"system_prompt": "Line two\n"})
    form = {
        "name": "Reception",
        "description": agent.description,
        "language": agent.language,
        "system_prompt": "Line three",
        "first_message": agent.first_message,
        "ai_provider": agent.ai_provider,
        "model": agent.model,
        "voice": agent.voice,
        "temperature": "",
        "provider_config": "{}",
        "status": agent.status,
        "max_call_duration_seconds": agent.max_call_duration_seconds,
        "silence_timeout_seconds": agent.silence_timeout_seconds,
        "end_call_phrases": "",
        "voicemail_message": "",
        "transfer_number": "",
        "tools": "\n".join(agent.tools),
    }

    saved(admin.post(f"/admin/agents/agent/{agent.pk}/change/", form))

    with alpha():
        agent = Agent.objects.get(pk=agent.pk)
        latest = AgentVersion.objects.get(agent=agent, number=agent.version)
    assert (agent.version, agent.name, agent.system_prompt) == (3, "Reception", "Line three")
    assert latest.changed_fields == ["name", "system_prompt"]


# --- organizations --------------------------------------------------------------------------------


def membership_of(org, user: User) -> Membership:
    return Membership.objects.get(organization=org, user=user)


def test_a_members_role_changed_in_the_admin_is_saved(org_a, make_member):
    owner, viewer = make_member(org_a, "owner"), make_member(org_a, "viewer")
    client = Client(HTTP_HOST=HOST)
    client.force_login(owner)
    membership = membership_of(org_a, viewer)

    saved(
        client.post(f"/admin/organizations/membership/{membership.pk}/change/", {"role": "admin"})
    )

    assert membership_of(org_a, viewer).role == "admin"
    viewer.refresh_from_db()
    assert viewer.is_staff  # admins may sign in to the admin


def test_the_last_owner_cannot_step_down_in_the_admin(org_a, make_member):
    owner = make_member(org_a, "owner")
    make_member(org_a, "admin")
    client = Client(HTTP_HOST=HOST)
    client.force_login(owner)
    membership = membership_of(org_a, owner)

    response = client.post(
        f"/admin/organizations/membership/{membership.pk}/change/", {"role": "admin"}
    )

    assert response.status_code == 200  # the form again, with the service's reason
    assert "An organization must keep at least one owner." in response.content.decode()
    assert membership_of(org_a, owner).role == "owner"
