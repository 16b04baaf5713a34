"""Numbers on the organization's own carrier account (import, registration, the URLs the
carrier needs) and configuration problems flagged early: agents and numbers whose provider
has no usable key say so on their API representation and their admin page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from calls.models import PhoneNumber
from tests.calls.telephony_support import PUBLIC
from tests.integrations.conftest import token

pytestmark = pytest.mark.django_db

NUMBERS = "/api/v1/phone-numbers/"
AGENTS = "/api/v1/agents/"
TWILIO_URLS = {
    "voice": f"{PUBLIC}/telephony/twilio/voice",
    "status": f"{PUBLIC}/telephony/twilio/status",
    "sms": f"{PUBLIC}/telephony/twilio/sms",
    "recording": f"{PUBLIC}/telephony/twilio/recording",
}


@pytest.fixture
def admin(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "admin"))


@pytest.fixture
def own_twilio(twilio, org_a, make_credential):
    sid, auth_token = twilio.add_account(auth_token=token())
    make_credential(org_a, "twilio", auth_token, account_sid=sid)
    return sid


def test_importing_reads_the_organizations_own_account_and_sets_our_urls(
    twilio, own_twilio, admin, org_a
):
    twilio.add_number("+14155550201")  # the platform's account: not this organization's
    twilio.add_number("+14155550301", friendly_name="Sales", account_sid=own_twilio)

    response = admin.post(f"{NUMBERS}import/", {"provider": "twilio"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["created"] == ["+14155550301"]
    assert response.json()["configured"] == ["+14155550301"]
    config = twilio.number("+14155550301").config
    assert config == {
        "voice_url": TWILIO_URLS["voice"],
        "voice_method": "POST",
        "status_callback": TWILIO_URLS["status"],
        "status_callback_method": "POST",
        "sms_url": TWILIO_URLS["sms"],
        "sms_method": "POST",
    }
    assert twilio.number("+14155550201").config == {}
    assert {r.auth[0] for r in twilio.requests} == {own_twilio}


def test_importing_from_plivo_attaches_the_numbers_to_our_application(
    plivo, org_a, admin, make_credential
):
    auth_id, auth_token = plivo.add_account(auth_token=token())
    make_credential(org_a, "plivo", auth_token, auth_id=auth_id)
    plivo.add_number("+14155550401", auth_id=auth_id)
    plivo.add_number("+14155550402", auth_id=auth_id)

    first = admin.post(f"{NUMBERS}import/", {"provider": "plivo"}, format="json")
    second = admin.post(f"{NUMBERS}import/", {"provider": "plivo"}, format="json")

    assert first.status_code == 200, first.content
    assert first.json()["configured"] == ["+14155550401", "+14155550402"]
    assert len(second.json()["configured"]) == 2
    (app_id, application), *others = plivo.applications.items()
    assert not others  # one application per account, its URLs refreshed
    assert (application["answer_url"], application["hangup_url"], application["message_url"]) == (
        f"{PUBLIC}/telephony/plivo/answer",
        f"{PUBLIC}/telephony/plivo/hangup",
        f"{PUBLIC}/telephony/plivo/sms",
    )
    assert {plivo.number(n).app_id for n in ("+14155550401", "+14155550402")} == {app_id}


def test_registering_a_number_checks_it_is_on_the_organizations_account(
    twilio, own_twilio, admin, org_a
):
    sid = twilio.add_number("+14155550501", account_sid=own_twilio)
    twilio.add_number("+14155550502")  # the platform's

    ours = admin.post(NUMBERS, {"number": "+14155550501"}, format="json")
    not_ours = admin.post(NUMBERS, {"number": "+14155550502"}, format="json")

    assert ours.status_code == 201, ours.content
    assert ours.json()["provider_id"] == sid
    assert not_ours.status_code == 400
    assert not_ours.json()["error"]["code"] == "number_not_on_carrier_account"
    assert own_twilio in not_ours.json()["error"]["message"]
    with tenant_context(org_a):
        assert list(PhoneNumber.objects.values_list("number", flat=True)) == ["+14155550501"]


def test_a_number_shows_the_urls_to_configure_and_whether_its_carrier_is_usable(
    telephony_settings, admin, org_a, make_number, make_credential
):
    telephony_settings.TWILIO_ACCOUNT_ID = telephony_settings.TWILIO_AUTH_TOKEN = ""
    with tenant_context(org_a):
        number = make_number()

    before = admin.get(f"{NUMBERS}{number.pk}/").json()
    make_credential(org_a, "twilio", token(), account_sid="AC" + "f" * 32)
    after = admin.get(f"{NUMBERS}{number.pk}/").json()

    assert before["carrier_urls"] == after["carrier_urls"] == TWILIO_URLS
    assert before["carrier_credential_available"] is False
    assert before["configuration_warnings"][0]["code"] == "credential_missing"
    assert "TWILIO_AUTH_TOKEN" in before["configuration_warnings"][0]["message"]
    assert after["carrier_credential_available"] is True
    assert after["configuration_warnings"] == []


def test_an_agent_whose_provider_has_no_key_is_flagged(settings, admin, org_a, make_agent):
    settings.OPENAI_API_KEY = settings.GEMINI_API_KEY = ""
    with tenant_context(org_a):
        agents = [make_agent(ai_provider="openai") for _ in range(3)]

    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        listed = admin.get(AGENTS)
    settings.OPENAI_API_KEY = "sk-platform-0123456789"
    detail = admin.get(f"{AGENTS}{agents[0].pk}/")

    warnings = [item["configuration_warnings"] for item in listed.json()["results"]]
    assert warnings == [[{"code": "credential_missing", "message": warnings[0][0]["message"]}]] * 3
    assert "/api/v1/credentials/" in warnings[0][0]["message"]
    credential_queries = [sql for sql in statements if "integrations_providercredential" in sql]
    assert len(credential_queries) == 1  # once per response, not once per agent
    assert detail.json()["configuration_warnings"] == []


def test_admin_pages_warn_about_a_missing_key(
    telephony_settings, org_a, make_member, make_agent, make_number
):
    telephony_settings.OPENAI_API_KEY = telephony_settings.TWILIO_AUTH_TOKEN = ""
    with tenant_context(org_a):
        agent = make_agent(ai_provider="openai")
        number = make_number()
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org_a, "admin"))

    agent_page = client.get(f"/admin/agents/agent/{agent.pk}/change/").content.decode()
    number_page = client.get(f"/admin/calls/phonenumber/{number.pk}/change/").content.decode()

    assert "no OpenAI credential" in agent_page
    assert "no Twilio credential" in number_page
    assert TWILIO_URLS["voice"] in number_page
