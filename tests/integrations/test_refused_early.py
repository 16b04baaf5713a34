"""A call that cannot work is refused before it is queued (503, the error shape, what to set),
and the check follows the organization: its own credentials make it pass, the platform's
count only where the platform lends them."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from calls.models import Call
from tests.calls.telephony_support import CALLER
from tests.integrations.conftest import token

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(twilio, org_a, make_agent, make_number):
    with tenant_context(org_a):
        agent = make_agent(ai_provider="openai")
        make_number(agent=agent)
    return agent


def start(org, agent, make_api_key, bearer):
    member = bearer(make_api_key(org, "member"))
    return member.post("/api/v1/calls/", {"agent_id": agent.pk, "to_phone": CALLER}, format="json")


def test_a_missing_model_key_is_refused_until_the_organization_adds_its_own(
    telephony_settings, agent, org_a, make_api_key, bearer, make_credential
):
    telephony_settings.OPENAI_API_KEY = ""

    refused = start(org_a, agent, make_api_key, bearer)
    make_credential(org_a, "openai", token())
    accepted = start(org_a, agent, make_api_key, bearer)

    assert refused.status_code == 503, refused.content
    error = refused.json()["error"]
    assert error["code"] == "ai_provider_not_configured"
    assert "/api/v1/credentials/" in error["message"] and "OPENAI_API_KEY" in error["message"]
    assert accepted.status_code == 201, accepted.content
    with tenant_context(org_a):
        assert Call.objects.count() == 1


def test_without_the_platform_fallback_the_platforms_accounts_do_not_count(
    telephony_settings, twilio, agent, org_a, make_api_key, bearer, make_credential
):
    telephony_settings.OPENAI_API_KEY = "sk-platform-0123456789"
    telephony_settings.ALLOW_PLATFORM_CREDENTIALS = False

    no_carrier = start(org_a, agent, make_api_key, bearer)
    sid, auth_token = twilio.add_account(auth_token=token())
    make_credential(org_a, "twilio", auth_token, account_sid=sid)
    no_model_key = start(org_a, agent, make_api_key, bearer)

    assert no_carrier.status_code == 503
    assert no_carrier.json()["error"]["code"] == "carrier_not_configured"
    assert "does not lend" in no_carrier.json()["error"]["message"]
    assert no_model_key.status_code == 503
    assert no_model_key.json()["error"]["code"] == "ai_provider_not_configured"
    with tenant_context(org_a):
        assert not Call.objects.exists()
    assert not twilio.requests_to("Calls", "POST")
