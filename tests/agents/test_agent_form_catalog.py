"""The agent editor offers the provider catalog's models and voices as choices, grouped by
provider (static/agents/agent_form.js shows the chosen provider's), keeps custom voice ids as
text, and tells which providers have no usable key here."""

import json
import re

import pytest
from django.test import Client

from agents.models import Agent
from tests.agents.factories import AgentFactory
from tests.agents.test_admin import BASE, form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(org_a, make_member):
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org_a, "admin"))
    return client


@pytest.fixture
def agent(in_org_a):
    return AgentFactory(name="Front desk", model="gpt-realtime-mini", voice="cedar")


def select(html: str, name: str) -> str:
    match = re.search(rf'<select name="{name}"[^>]*>.*?</select>', html, re.S)
    assert match, f"no select {name}"
    return match.group(0)


def test_model_and_voice_are_the_catalogs_choices_grouped_by_provider(admin_client, agent):
    html = admin_client.get(f"{BASE}{agent.pk}/change/").content.decode()

    model = select(html, "model")
    assert '<optgroup label="OpenAI Realtime">' in model
    assert '<optgroup label="Gemini Live">' in model
    assert '<option value="gpt-realtime-mini" selected>' in model
    groups = re.search(r"data-provider-groups=\"([^\"]+)\"", model).group(1)
    assert json.loads(groups.replace("&quot;", '"'))["Gemini Live"] == "gemini"
    voice = select(html, "voice")
    assert '<option value="cedar" selected>' in voice and ">Puck</option>" in voice
    assert "/static/agents/agent_form.js" in html


def test_a_custom_voice_id_is_kept_as_text(admin_client, agent, in_org_a):
    response = admin_client.post(
        f"{BASE}{agent.pk}/change/",
        form_data(agent, voice="", custom_voice="voice_abc123"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Agent.objects.get(pk=agent.pk).voice == "voice_abc123"
    html = admin_client.get(f"{BASE}{agent.pk}/change/").content.decode()
    assert 'name="custom_voice" value="voice_abc123"' in html


def test_a_custom_voice_the_provider_refuses_is_reported_on_that_field(admin_client, agent):
    response = admin_client.post(
        f"{BASE}{agent.pk}/change/", form_data(agent, voice="", custom_voice="nova")
    )

    assert response.status_code == 200
    assert "custom_voice" in response.context["adminform"].form.errors


def test_another_providers_model_is_refused(admin_client, agent):
    response = admin_client.post(
        f"{BASE}{agent.pk}/change/", form_data(agent, model="gemini-3.1-flash-live-preview")
    )

    assert response.status_code == 200
    assert "model" in response.context["adminform"].form.errors


def test_the_providers_without_a_usable_key_are_named(admin_client, agent, settings):
    settings.OPENAI_API_KEY = "sk-test"
    settings.GEMINI_API_KEY = ""

    html = admin_client.get(f"{BASE}{agent.pk}/change/").content.decode()

    provider = select(html, "ai_provider")
    warnings = json.loads(
        re.search(r"data-key-warnings=\"([^\"]*)\"", provider).group(1).replace("&quot;", '"')
    )
    assert "gemini" in warnings and "GEMINI_API_KEY" in warnings["gemini"]
    assert "openai" not in warnings


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_the_read_only_agent_page_opens(org_a, make_member, agent, role):
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org_a, role))

    response = client.get(f"{BASE}{agent.pk}/change/")

    assert response.status_code == 200
    assert "cedar" in response.content.decode()
