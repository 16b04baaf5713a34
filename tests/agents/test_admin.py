"""The agents admin on an organization's own domain: pages render for its admins, saves and
rollbacks go through the services (so they make versions), deleting is a soft delete."""

import pytest
from django.test import Client

from agents.models import Agent, AgentVersion
from agents.services import agent_update
from tests.agents.factories import AgentFactory

pytestmark = pytest.mark.django_db

BASE = "/admin/agents/agent/"


@pytest.fixture
def admin_client(org_a, make_member):
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org_a, "admin"))
    return client


@pytest.fixture
def agent(in_org_a):
    agent = AgentFactory(name="Front desk", system_prompt="Line one\n")
    return agent_update(agent=agent, data={"system_prompt": "Line two\n"})


def form_data(agent, **changes):
    data = {
        "name": agent.name,
        "description": agent.description,
        "language": agent.language,
        "system_prompt": agent.system_prompt,
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
    return {**data, **changes}


def test_admin_pages_render(admin_client, agent):
    pages = [
        BASE,
        f"{BASE}?ai_provider__exact=openai&q=front",
        f"{BASE}add/",
        f"{BASE}{agent.pk}/change/",
        f"{BASE}{agent.pk}/history/",
        f"{BASE}{agent.pk}/versions/",
        f"{BASE}{agent.pk}/versions/diff/?from=1&to=2",
        f"{BASE}{agent.pk}/delete/",
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, (page, response.status_code)
    diff = admin_client.get(f"{BASE}{agent.pk}/versions/diff/").content.decode()
    assert "-Line one" in diff and "+Line two" in diff
    assert admin_client.get(f"{BASE}{agent.pk}/versions/diff/?to=9").status_code == 404


def test_saving_the_change_form_stores_a_version(admin_client, agent):
    response = admin_client.post(
        f"{BASE}{agent.pk}/change/",
        form_data(agent, first_message="Hi {{customer_name}}", tools="end_call\n"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    agent.refresh_from_db()
    assert (agent.version, agent.first_message, agent.tools) == (
        3,
        "Hi {{customer_name}}",
        ["end_call"],
    )
    latest = AgentVersion.objects.get(agent=agent, number=3)
    assert latest.changed_fields == ["first_message", "tools"]


def test_the_change_form_shows_the_services_validation_errors(admin_client, agent):
    response = admin_client.post(
        f"{BASE}{agent.pk}/change/", form_data(agent, ai_provider="gemini", voice="alloy")
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "model" in errors and "voice" in errors
    agent.refresh_from_db()
    assert agent.version == 2


def test_adding_an_agent_goes_through_the_service(admin_client, in_org_a):
    response = admin_client.post(
        f"{BASE}add/",
        form_data(
            Agent(name="Added", max_call_duration_seconds=600, silence_timeout_seconds=20),
            model="",
            voice="",
            tools="",
        ),
    )

    assert response.status_code == 302
    added = Agent.objects.get(name="Added")
    assert (added.version, added.model, added.voice) == (1, "gpt-realtime", "marin")
    assert AgentVersion.objects.filter(agent=added).count() == 1


def test_the_rollback_button_creates_a_new_version(admin_client, agent):
    response = admin_client.post(f"{BASE}{agent.pk}/versions/1/rollback/")

    assert response.status_code == 302
    agent.refresh_from_db()
    assert (agent.version, agent.system_prompt) == (3, "Line one")
    assert admin_client.get(f"{BASE}{agent.pk}/versions/1/rollback/").status_code == 405


def test_the_duplicate_action_copies_agents(admin_client, agent):
    response = admin_client.post(BASE, {"action": "duplicate", "_selected_action": [agent.pk]})

    assert response.status_code == 302
    assert Agent.objects.filter(name="Front desk (copy)", version=1).exists()


def test_deleting_from_the_admin_is_a_soft_delete(admin_client, agent):
    response = admin_client.post(f"{BASE}{agent.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.deleted_at is not None
    assert AgentVersion.objects.filter(agent=agent).count() == 2
    assert agent not in admin_client.get(BASE).context["cl"].result_list
    assert admin_client.get(f"{BASE}{agent.pk}/change/").status_code == 302  # "does not exist"


def test_a_viewer_sees_versions_but_cannot_change_or_roll_back(org_a, make_member, agent):
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org_a, "viewer"))

    assert client.get(f"{BASE}{agent.pk}/versions/").status_code == 200
    assert client.post(f"{BASE}{agent.pk}/versions/1/rollback/").status_code == 403
    agent.refresh_from_db()
    assert agent.version == 2
