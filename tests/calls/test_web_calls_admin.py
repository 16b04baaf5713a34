"""The admin side of "Talk to this agent": the agent's page shows the panel to those who may
start a call (members and above), and its POST starts a web call through the service,
answering JSON for the page's script (the API's error shape when refused)."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from calls.models import Call
from calls.stream_tokens import stream_token_consume

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(org_a, telephony_settings, make_agent):
    with tenant_context(org_a):
        return make_agent(name="Front desk")


def client_for(org, make_member, role: str) -> Client:
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org, role))
    return client


def start_url(agent) -> str:
    return f"/admin/calls/call/web/{agent.pk}/start/"


@pytest.mark.parametrize("role", ["member", "admin"])
def test_the_agent_page_shows_the_talk_panel_to_members_and_above(org_a, agent, make_member, role):
    page = client_for(org_a, make_member, role).get(f"/admin/agents/agent/{agent.pk}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "data-talk" in html and f'data-start-url="{start_url(agent)}"' in html
    assert "/static/agents/talk.js" in html
    assert "Versions (v1)" in html


def test_a_viewer_sees_the_agent_page_without_the_panel(org_a, agent, make_member):
    page = client_for(org_a, make_member, "viewer").get(f"/admin/agents/agent/{agent.pk}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "data-talk" not in html and "talk.js" not in html


def test_without_a_key_the_button_is_disabled_and_says_why(
    org_a, agent, make_member, telephony_settings
):
    telephony_settings.OPENAI_API_KEY = ""

    html = (
        client_for(org_a, make_member, "member")
        .get(f"/admin/agents/agent/{agent.pk}/change/")
        .content.decode()
    )

    assert 'data-state="failed"' in html and "data-talk-start disabled" in html
    assert "OPENAI_API_KEY" in html


def test_the_post_starts_a_web_call_and_answers_where_to_stream(org_a, agent, make_member):
    response = client_for(org_a, make_member, "member").post(start_url(agent))

    assert response.status_code == 201, response.content
    body = response.json()
    with tenant_context(org_a):
        call = Call.objects.get()
    assert (call.direction, call.status) == ("web", "queued")
    assert body["call_id"] == call.pk
    assert body["call_api_url"] == f"/api/v1/calls/{call.pk}/"
    assert body["live_path"] == f"/ws/calls/{call.pk}/live/"
    assert body["call_admin_url"] == f"/admin/calls/call/{call.pk}/change/"
    prefix = "/ws/web/media/"
    assert body["stream_path"].startswith(prefix)
    assert stream_token_consume(body["stream_path"].removeprefix(prefix)).call_id == call.pk


def test_a_viewer_is_refused_with_the_error_shape(org_a, agent, make_member):
    response = client_for(org_a, make_member, "viewer").post(start_url(agent))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    with tenant_context(org_a):
        assert not Call.objects.exists()


def test_an_unknown_agent_is_a_404(org_a, agent, make_member):
    response = client_for(org_a, make_member, "admin").post("/admin/calls/call/web/999999/start/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "agent_not_found"


def test_the_start_is_a_post(org_a, agent, make_member):
    assert client_for(org_a, make_member, "admin").get(start_url(agent)).status_code == 405


def test_the_concurrency_limit_is_the_error_shape(org_a, agent, make_member):
    from organizations.models import Organization

    Organization.objects.filter(pk=org_a.pk).update(max_concurrent_calls=0)

    response = client_for(org_a, make_member, "member").post(start_url(agent))

    assert response.status_code == 429, response.content
    assert response.json()["error"]["code"] == "concurrency_limit_reached"
