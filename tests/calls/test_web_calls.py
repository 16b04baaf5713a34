"""Web calls ("Talk to this agent"): web_call_start creates a normal call with direction web,
no carrier and a signed stream URL, under the same rules as every other call (roles, the
organization's concurrency limit, a usable AI key)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django_tenants.utils import tenant_context

from agents.exceptions import AgentNotFound
from agents.services import agent_delete
from calls.exceptions import AIProviderNotConfigured, ConcurrencyLimitReached
from calls.models import Call, CallEvent
from calls.services.web_calls import web_call_start
from calls.stream_tokens import stream_token_consume
from organizations.models import Organization
from voiceagents.exceptions import PermissionDenied

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(telephony_settings, org_a, make_agent):
    with tenant_context(org_a):
        return make_agent(name="Support")


@pytest.mark.parametrize("role", ["member", "admin", "owner"])
def test_a_web_call_is_a_queued_call_with_direction_web_and_a_signed_stream(
    agent, org_a, make_member, role
):
    user = make_member(org_a, role)

    with tenant_context(org_a):
        web_call = web_call_start(agent=agent, user=user)
        call = Call.objects.select_related("agent_version").get(pk=web_call.call.pk)
        created = CallEvent.objects.get(call=call, name="created")

    assert (call.direction, call.provider, call.status) == ("web", "web", "queued")
    assert (call.from_number, call.to_number, call.provider_call_id) == ("", "", "")
    assert call.agent_id == agent.pk
    assert call.agent_version is not None and call.agent_version.number == 1
    assert created.payload == {"agent_id": agent.pk, "web": True, "user_id": user.pk}
    url = urlsplit(web_call.stream_url)
    assert url.scheme == "wss" and url.netloc == "voice.example.com"
    prefix = "/ws/web/media/"
    assert url.path.startswith(prefix)
    grant = stream_token_consume(url.path.removeprefix(prefix))
    assert (grant.schema_name, grant.call_id) == (org_a.schema_name, call.pk)


def test_a_viewer_cannot_start_a_web_call(agent, org_a, make_member):
    viewer = make_member(org_a, "viewer")

    with tenant_context(org_a), pytest.raises(PermissionDenied):
        web_call_start(agent=agent, user=viewer)

    with tenant_context(org_a):
        assert not Call.objects.exists()


def test_a_member_of_another_organization_cannot_start_one(agent, org_a, org_b, make_member):
    stranger = make_member(org_b, "owner")

    with tenant_context(org_a), pytest.raises(PermissionDenied):
        web_call_start(agent=agent, user=stranger)


def test_the_organizations_concurrency_limit_applies(agent, org_a, make_member):
    user = make_member(org_a, "member")
    Organization.objects.filter(pk=org_a.pk).update(max_concurrent_calls=1)
    org = Organization.objects.get(pk=org_a.pk)
    with tenant_context(org):
        web_call_start(agent=agent, user=user)

        with pytest.raises(ConcurrencyLimitReached) as refused:
            web_call_start(agent=agent, user=user)

        assert Call.objects.count() == 1
    assert refused.value.details == {"active_calls": 1, "max_concurrent_calls": 1}


def test_an_ended_call_frees_its_slot(agent, org_a, make_member):
    user = make_member(org_a, "member")
    Organization.objects.filter(pk=org_a.pk).update(max_concurrent_calls=1)
    org = Organization.objects.get(pk=org_a.pk)
    with tenant_context(org):
        first = web_call_start(agent=agent, user=user).call
        Call.objects.filter(pk=first.pk).update(status="completed")

        second = web_call_start(agent=agent, user=user).call

    assert second.pk != first.pk


def test_an_agent_whose_provider_has_no_key_is_refused(
    agent, org_a, make_member, telephony_settings
):
    user = make_member(org_a, "member")
    telephony_settings.OPENAI_API_KEY = ""

    with tenant_context(org_a), pytest.raises(AIProviderNotConfigured) as refused:
        web_call_start(agent=agent, user=user)

    assert "OPENAI_API_KEY" in refused.value.message
    with tenant_context(org_a):
        assert not Call.objects.exists()


def test_a_deleted_agent_is_not_found(agent, org_a, make_member):
    user = make_member(org_a, "member")
    with tenant_context(org_a):
        agent_delete(agent=agent)

        with pytest.raises(AgentNotFound):
            web_call_start(agent=agent, user=user)


def test_a_paused_agent_can_still_be_tried(agent, org_a, make_member):
    user = make_member(org_a, "member")
    with tenant_context(org_a):
        type(agent).objects.filter(pk=agent.pk).update(status="paused")

        call = web_call_start(agent=agent, user=user).call

    assert call.direction == "web"
