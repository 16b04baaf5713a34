"""Starting an outbound call checks at once what it needs (docs/api.md, "Calls"): an account
with the carrier of the number it comes from, a key for the agent's AI provider, and a number
of ours that may place calls. A failed check answers with the error shape and what to set,
and no call is created or dialed."""

import json

import pytest

from calls.models import Call
from calls.services import dnc_entry_create
from tests.calls.telephony_support import CALLER, OUR_NUMBER

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(alpha, make_agent, make_number):
    with alpha():
        agent = make_agent()
        make_number(agent=agent)
    return agent


@pytest.fixture
def member(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "member"))


def start(member, **body):
    return member.post("/api/v1/calls/", {"to_phone": CALLER, **body}, format="json")


def assert_refused(response, status: int, code: str, *, mentions: str = "") -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["request_id"], error
    if mentions:
        assert mentions in json.dumps(error), error
    return error


def no_call_was_made(alpha, twilio) -> None:
    with alpha():
        assert not Call.objects.exists()
    assert not twilio.requests_to("Calls", "POST")


def test_a_carrier_that_is_not_configured_is_a_503_before_anything_is_queued(
    twilio, telephony_settings, agent, member, alpha
):
    telephony_settings.TWILIO_AUTH_TOKEN = ""

    response = start(member, agent_id=agent.pk)

    assert_refused(response, 503, "carrier_not_configured", mentions="TWILIO_AUTH_TOKEN")
    no_call_was_made(alpha, twilio)


@pytest.mark.parametrize(("provider", "setting"), [("openai", "OPENAI_API_KEY")])
def test_an_ai_provider_without_a_key_is_a_503_naming_the_setting(
    twilio, telephony_settings, alpha, make_agent, make_number, member, provider, setting
):
    with alpha():
        agent = make_agent(ai_provider=provider)
        make_number(agent=agent)
    setattr(telephony_settings, setting, "")

    response = start(member, agent_id=agent.pk)

    assert response.status_code == 503, response.content
    assert setting in json.dumps(response.json()["error"])
    no_call_was_made(alpha, twilio)


def test_a_number_that_is_not_ours_is_a_400(twilio, agent, member, alpha):
    response = start(member, agent_id=agent.pk, from_phone="+14155550177")

    error = assert_refused(response, 400, "validation_error")
    assert "from_phone" in error["details"]["fields"]
    no_call_was_made(alpha, twilio)


def test_a_number_without_voice_is_a_409(twilio, agent, member, alpha, make_number):
    with alpha():
        make_number("+14155550188", voice_enabled=False)

    response = start(member, agent_id=agent.pk, from_phone="+14155550188")

    assert_refused(response, 409, "phone_number_not_voice_enabled", mentions="+14155550188")
    no_call_was_made(alpha, twilio)


def test_with_everything_configured_the_call_is_queued_and_dialed(
    twilio, agent, member, alpha, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = start(member, agent_id=agent.pk, from_phone=OUR_NUMBER)

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "queued"
    assert len(twilio.requests_to("Calls", "POST")) == 1


def test_the_checks_are_one_service_the_batch_dispatcher_can_call(twilio, agent, alpha):
    from calls import services
    from calls.exceptions import CarrierNotConfigured
    from calls.models import PhoneNumber

    with alpha():
        number = PhoneNumber.objects.get(number=OUR_NUMBER)
        services.call_dial_check(agent=agent, phone_number=number)  # passes
        number.provider = "plivo"  # no Plivo account in these settings
        with pytest.raises(CarrierNotConfigured, match="PLIVO"):
            services.call_dial_check(agent=agent, phone_number=number)


def test_a_number_on_the_do_not_call_list_is_a_409_and_never_dialed(twilio, agent, member, alpha):
    with alpha():
        dnc_entry_create(number=CALLER, reason="Asked not to be called.")

    response = start(member, agent_id=agent.pk)

    assert_refused(response, 409, "number_on_dnc_list", mentions=CALLER)
    with alpha():
        assert not Call.objects.exists()
    assert not twilio.requests_to("Calls", "POST")
