"""The telephony admin on an organization's own domain: numbers with ordered rules (saved
through the services), import, the "test a route" form, calls with their timeline."""

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from calls.models import Call, CallEvent, PhoneNumber, RoutingRule
from organizations.models import PhoneNumberClaim
from tests.calls.telephony_support import CALLER, OUR_NUMBER

pytestmark = pytest.mark.django_db

BASE = "/admin/calls/"


def admin_client(org, make_member, role):
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org, role))
    return client


@pytest.fixture
def admin(org_a, make_member):
    return admin_client(org_a, make_member, "admin")


@pytest.fixture
def agents(alpha, make_agent):
    with alpha():
        return make_agent(name="Front desk"), make_agent(name="Sales")


def test_admin_pages_render(admin, alpha, agents, make_number):
    with alpha():
        number = make_number(
            agent=agents[0],
            rules=[{"name": "SF", "caller_prefix": "+1415", "agent_id": agents[1].pk}],
        )
        call = Call.objects.create(
            direction="inbound",
            from_number=CALLER,
            to_number=OUR_NUMBER,
            provider="twilio",
            agent=agents[0],
        )
        CallEvent.objects.create(
            call=call, kind="webhook", name="twilio.answer", payload={"CallSid": "CA1"}
        )

    pages = [
        f"{BASE}phonenumber/",
        f"{BASE}phonenumber/add/",
        f"{BASE}phonenumber/{number.pk}/change/",
        f"{BASE}phonenumber/test-route/",
        f"{BASE}call/",
        f"{BASE}call/?status__exact=queued&direction__exact=inbound",
        f"{BASE}call/{call.pk}/change/",
        f"{BASE}message/",
    ]
    for page in pages:
        response = admin.get(page)
        assert response.status_code == 200, (page, response.status_code)
    timeline = admin.get(f"{BASE}call/{call.pk}/change/").content.decode()
    assert "Timeline" in timeline and "twilio.answer" in timeline
    assert "Import from Twilio" in admin.get(f"{BASE}phonenumber/").content.decode()


def test_a_number_added_in_the_admin_is_claimed_and_keeps_its_rules_in_order(
    admin, alpha, agents, org_a
):
    prefix = "rules-"
    response = admin.post(
        f"{BASE}phonenumber/add/",
        {
            "number": "+1 415 555 0100",
            "provider": "twilio",
            "friendly_name": "Main",
            "voice_enabled": "on",
            "sms_enabled": "on",
            "agent": agents[0].pk,
            "fallback_action": "message",
            "fallback_message": "",
            "fallback_forward_number": "",
            "provider_id": "",
            f"{prefix}TOTAL_FORMS": "2",
            f"{prefix}INITIAL_FORMS": "0",
            f"{prefix}MIN_NUM_FORMS": "0",
            f"{prefix}MAX_NUM_FORMS": "1000",
            f"{prefix}0-position": "2",
            f"{prefix}0-name": "later",
            f"{prefix}0-agent": agents[0].pk,
            f"{prefix}0-caller_country": "gb",
            f"{prefix}0-is_active": "on",
            f"{prefix}1-position": "1",
            f"{prefix}1-name": "first",
            f"{prefix}1-agent": agents[1].pk,
            f"{prefix}1-caller_prefix": "+1415",
            f"{prefix}1-days_of_week": ["0", "4"],
            f"{prefix}1-start_time": "09:00",
            f"{prefix}1-end_time": "17:00",
            f"{prefix}1-is_active": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    with alpha():
        number = PhoneNumber.objects.get()
        rules = list(RoutingRule.objects.filter(phone_number=number).order_by("position"))
    assert number.number == OUR_NUMBER
    assert [(r.name, r.position, r.days_of_week, r.caller_country) for r in rules] == [
        ("first", 0, [0, 4], ""),
        ("later", 1, [], "GB"),
    ]
    with schema_context("public"):
        assert PhoneNumberClaim.objects.get(number=OUR_NUMBER).organization_id == org_a.pk


def test_an_invalid_rule_is_shown_on_the_form(admin, agents):
    prefix = "rules-"
    response = admin.post(
        f"{BASE}phonenumber/add/",
        {
            "number": OUR_NUMBER,
            "provider": "twilio",
            "fallback_action": "message",
            f"{prefix}TOTAL_FORMS": "1",
            f"{prefix}INITIAL_FORMS": "0",
            f"{prefix}MIN_NUM_FORMS": "0",
            f"{prefix}MAX_NUM_FORMS": "1000",
            f"{prefix}0-position": "0",
            f"{prefix}0-agent": agents[0].pk,
            f"{prefix}0-start_time": "09:00",
            f"{prefix}0-is_active": "on",
        },
    )

    assert response.status_code == 200
    assert "Give both start and end." in response.content.decode()


def test_the_test_route_form_shows_which_agent_answers_and_why(admin, alpha, agents, make_number):
    with alpha():
        make_number(
            agent=agents[0],
            rules=[{"name": "SF", "caller_prefix": "+1415", "agent_id": agents[1].pk}],
        )

    response = admin.post(
        f"{BASE}phonenumber/test-route/", {"to_number": OUR_NUMBER, "from_number": CALLER}
    )
    other = admin.post(
        f"{BASE}phonenumber/test-route/", {"to_number": OUR_NUMBER, "from_number": "+442071838750"}
    )

    page = response.content.decode()
    assert response.status_code == 200 and "Sales" in page and "matched SF" in page
    assert "Front desk" in other.content.decode() and "default agent" in other.content.decode()


def test_importing_from_twilio_in_the_admin_needs_an_admin(
    twilio, admin, org_a, make_member, alpha
):
    twilio.add_number("+14155550210", friendly_name="Imported")
    viewer = admin_client(org_a, make_member, "viewer")

    refused = viewer.post(f"{BASE}phonenumber/import/")
    response = admin.post(f"{BASE}phonenumber/import/", follow=True)

    assert refused.status_code == 403
    assert "1 added" in response.content.decode()
    with alpha():
        assert PhoneNumber.objects.get().friendly_name == "Imported"
