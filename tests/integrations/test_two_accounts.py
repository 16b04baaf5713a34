"""Two organizations with their own Twilio (and Plivo) accounts on one platform: each dials
through its own account, and every webhook (answer, status, recording, SMS) is checked with
the auth token of the account that owns the number or the call; a request signed with any
other account's token is refused."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET

import pytest
from django_tenants.utils import tenant_context

from calls.models import Call
from calls.telephony.urls import call_ref_issue, public_webhook_url
from tests.calls.telephony_support import (
    CALLER,
    PUBLIC,
    plivo_headers,
    post_webhook,
    send,
    stream_of,
    twilio_headers,
)
from tests.fakes.plivo_rest import PlivoCallbackDriver
from tests.fakes.twilio_rest import TwilioCallbackDriver
from tests.integrations.conftest import token

pytestmark = pytest.mark.django_db

VOICE = f"{PUBLIC}/telephony/twilio/voice"
SMS = f"{PUBLIC}/telephony/twilio/sms"


@dataclass
class Tenant:
    org: object
    sid: str
    token: str
    number: str
    agent: object


@pytest.fixture
def tenants(twilio, org_a, org_b, make_credential, make_agent, make_number):
    """alpha and beta, each with its own account on the Twilio fake, a number on it and an
    agent answering it. The platform's account (settings) is the fake's first one."""
    made = {}
    for org, number in ((org_a, "+14155550100"), (org_b, "+14155550110")):
        sid, auth_token = twilio.add_account(auth_token=token(), name=org.name)
        twilio.add_number(number, account_sid=sid)
        make_credential(org, "twilio", auth_token, account_sid=sid)
        with tenant_context(org):
            agent = make_agent(recording_enabled=True)
            make_number(number, agent=agent)
        made[org.slug] = Tenant(org, sid, auth_token, number, agent)
    return made["alpha"], made["beta"]


def inbound(to: str) -> dict[str, str]:
    return {
        "CallSid": "CA" + "7" * 32,
        "From": CALLER,
        "To": to,
        "CallStatus": "ringing",
        "Direction": "inbound",
    }


def _driver_signed_with(twilio, call_sid: str, auth_token: str) -> TwilioCallbackDriver:
    driver = TwilioCallbackDriver.for_call(twilio, call_sid)
    driver.auth_token = auth_token
    return driver


def test_each_organization_dials_through_its_own_account(twilio, tenants, dial):
    alpha, beta = tenants

    calls = {}
    for tenant in tenants:
        with tenant_context(tenant.org):
            calls[tenant.org.slug] = dial(agent_id=tenant.agent.pk)

    for tenant in tenants:
        call = calls[tenant.org.slug]
        assert call.status == "queued" and call.provider_call_id, call.error_message
        placed = twilio.calls[call.provider_call_id]
        assert placed.account_sid == tenant.sid
        assert placed.from_ == tenant.number
    assert {r.auth for r in twilio.requests_to("Calls", "POST")} == {
        (alpha.sid, alpha.token),
        (beta.sid, beta.token),
    }
    assert twilio.calls_of(twilio.account_sid) == []  # the platform's account dialed nothing


def test_callbacks_of_a_call_are_accepted_only_with_its_accounts_token(twilio, tenants, dial):
    alpha, beta = tenants
    with tenant_context(alpha.org):
        call = dial(agent_id=alpha.agent.pk)

    foreign = _driver_signed_with(twilio, call.provider_call_id, beta.token)
    platform = _driver_signed_with(twilio, call.provider_call_id, twilio.auth_token)
    own = TwilioCallbackDriver.for_call(twilio, call.provider_call_id)

    assert send(foreign.status("ringing")).status_code == 403
    assert send(platform.status("ringing")).status_code == 403
    assert send(foreign.answer()).status_code == 403
    with tenant_context(alpha.org):
        assert Call.objects.get(pk=call.pk).status == "queued"

    assert send(own.status("ringing")).status_code == 204
    with tenant_context(alpha.org):
        assert Call.objects.get(pk=call.pk).status == "ringing"
    answered = send(own.answer())
    assert answered.status_code == 200
    assert stream_of(answered.content.decode())[1] == {"callId": str(call.pk)}


def test_inbound_calls_are_checked_with_the_token_of_the_account_owning_the_number(twilio, tenants):
    alpha, beta = tenants

    to_alpha_signed_by_beta = post_webhook(
        VOICE, inbound(alpha.number), twilio_headers(VOICE, inbound(alpha.number), token=beta.token)
    )
    to_alpha_signed_by_platform = post_webhook(
        VOICE, inbound(alpha.number), twilio_headers(VOICE, inbound(alpha.number))
    )
    to_alpha = post_webhook(
        VOICE,
        inbound(alpha.number),
        twilio_headers(VOICE, inbound(alpha.number), token=alpha.token),
    )
    to_beta = post_webhook(
        VOICE, inbound(beta.number), twilio_headers(VOICE, inbound(beta.number), token=beta.token)
    )

    assert to_alpha_signed_by_beta.status_code == 403
    assert to_alpha_signed_by_platform.status_code == 403
    assert to_alpha.status_code == 200 and to_beta.status_code == 200
    for tenant, answer in ((alpha, to_alpha), (beta, to_beta)):
        stream_of(answer.content.decode())  # connected to the media stream
        with tenant_context(tenant.org):
            (call,) = Call.objects.all()
            assert (call.direction, call.to_number) == ("inbound", tenant.number)


def test_recording_and_sms_webhooks_are_checked_with_the_owners_token(twilio, tenants, dial):
    alpha, beta = tenants
    with tenant_context(alpha.org):
        call = dial(agent_id=alpha.agent.pk)
    url = public_webhook_url(
        "telephony-twilio-recording",
        c=call_ref_issue(schema_name=alpha.org.schema_name, call_id=call.pk),
    )
    params = {
        "CallSid": call.provider_call_id,
        "RecordingStatus": "completed",
        "RecordingUrl": "https://api.twilio.com/recordings/RE1",
        "RecordingDuration": "12",
    }
    sms = {"MessageSid": "SM" + "1" * 32, "From": CALLER, "To": beta.number, "Body": "hi"}

    refused = post_webhook(url, params, twilio_headers(url, params, token=beta.token))
    stored = post_webhook(url, params, twilio_headers(url, params, token=alpha.token))
    sms_refused = post_webhook(SMS, sms, twilio_headers(SMS, sms, token=alpha.token))
    sms_received = post_webhook(SMS, sms, twilio_headers(SMS, sms, token=beta.token))

    assert (refused.status_code, stored.status_code) == (403, 204)
    with tenant_context(alpha.org):
        assert Call.objects.get(pk=call.pk).recording_url.endswith("/RE1")
    assert (sms_refused.status_code, sms_received.status_code) == (403, 200)


def test_a_number_nobody_holds_is_still_answered_with_the_platforms_signature(
    twilio, tenants, settings
):
    settings.ALLOW_PLATFORM_CREDENTIALS = False  # not lending the account is not losing it
    params = inbound("+14155550999")

    answer = post_webhook(VOICE, params, twilio_headers(VOICE, params))
    foreign = post_webhook(VOICE, params, twilio_headers(VOICE, params, token=tenants[0].token))

    assert answer.status_code == 200
    assert ET.fromstring(answer.content).find("Hangup") is not None
    assert foreign.status_code == 403


def test_an_organization_without_its_own_account_uses_the_platforms_when_allowed(
    twilio, org_a, make_agent, make_number, dial, settings
):
    with tenant_context(org_a):
        agent = make_agent()
        make_number(agent=agent)
        call = dial(agent_id=agent.pk)
    params = inbound("+14155550100")

    platform_signed = post_webhook(VOICE, params, twilio_headers(VOICE, params))
    settings.ALLOW_PLATFORM_CREDENTIALS = False
    refused = post_webhook(VOICE, params, twilio_headers(VOICE, params))

    assert twilio.calls[call.provider_call_id].account_sid == twilio.account_sid
    assert platform_signed.status_code == 200
    assert refused.status_code == 403


def test_plivo_accounts_sign_and_dial_per_organization(
    plivo, org_a, org_b, make_credential, make_agent, make_number, dial
):
    accounts = {}
    for org, number in ((org_a, "+14155550120"), (org_b, "+14155550130")):
        auth_id, auth_token = plivo.add_account(auth_token=token())
        plivo.add_number(number, auth_id=auth_id)
        make_credential(org, "plivo", auth_token, auth_id=auth_id)
        with tenant_context(org):
            agent = make_agent()
            make_number(number, provider="plivo", agent=agent)
            call = dial(agent_id=agent.pk)
        accounts[org.slug] = (auth_id, auth_token, number, call)

    for auth_id, auth_token, _number, call in accounts.values():
        assert plivo.calls[call.provider_call_id].auth_id == auth_id
        driver = PlivoCallbackDriver.for_call(plivo, call.provider_call_id)
        assert driver.auth_token == auth_token
        assert send(driver.ring()).status_code == 204
    alpha_call = accounts["alpha"][3]
    forged = PlivoCallbackDriver.for_call(plivo, alpha_call.provider_call_id)
    forged.auth_token = accounts["beta"][1]
    assert send(forged.ring()).status_code == 403

    url = f"{PUBLIC}/telephony/plivo/answer"
    params = {"CallUUID": "u-1", "From": CALLER[1:], "To": accounts["beta"][2][1:]}
    assert (
        post_webhook(
            url, params, plivo_headers(url, params, token=accounts["alpha"][1])
        ).status_code
        == 403
    )
    assert (
        post_webhook(url, params, plivo_headers(url, params, token=accounts["beta"][1])).status_code
        == 200
    )
