"""Phone numbers: E.164 only, one organization per number (the public index), rules inline,
roles, and import from the platform's Twilio account."""

import datetime as dt

import pytest
from django_tenants.utils import schema_context, tenant_context

from calls.models import PhoneNumber, RoutingRule
from organizations.models import PhoneNumberClaim
from tests.calls.telephony_support import OUR_NUMBER

pytestmark = pytest.mark.django_db

URL = "/api/v1/phone-numbers/"


@pytest.fixture
def admin_api(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "admin"))


def test_adding_a_number_claims_it_for_the_organization(admin_api, org_a, alpha, make_agent):
    with alpha():
        agent = make_agent()

    response = admin_api.post(
        URL,
        {
            "number": "+1 (415) 555-0100",
            "provider": "twilio",
            "agent_id": agent.pk,
            "friendly_name": "Main line",
            "capabilities": {"voice": True, "sms": False},
            "rules": [
                {
                    "name": "weekdays",
                    "days_of_week": [0, 1, 2, 3, 4],
                    "start_time": "09:00",
                    "end_time": "17:00",
                    "agent_id": agent.pk,
                }
            ],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["number"], body["agent_id"], body["capabilities"]) == (
        OUR_NUMBER,
        agent.pk,
        {"voice": True, "sms": False},
    )
    assert body["rules"][0]["start_time"] == "09:00:00"
    with schema_context("public"):
        claim = PhoneNumberClaim.objects.get(number=OUR_NUMBER)
    assert (claim.organization_id, claim.provider) == (org_a.pk, "twilio")


@pytest.mark.parametrize("number", ["+1234567890", "555-0100", "hello", ""])
def test_a_number_that_is_not_e164_is_a_400_naming_it(admin_api, number):
    response = admin_api.post(URL, {"number": number, "provider": "twilio"}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    if number:
        assert error["code"] == "invalid_phone_number"
        assert repr(number) in error["message"]
        assert "number" in error["details"]["fields"]


def test_a_number_belongs_to_one_organization_only(admin_api, org_b, make_api_key, bearer, alpha):
    first = admin_api.post(URL, {"number": OUR_NUMBER}, format="json")
    again = admin_api.post(URL, {"number": OUR_NUMBER}, format="json")
    other = bearer(make_api_key(org_b, "admin")).post(URL, {"number": OUR_NUMBER}, format="json")

    assert first.status_code == 201
    assert again.status_code == other.status_code == 409
    # The other organization cannot tell whose number it is.
    assert again.json()["error"]["message"] == other.json()["error"]["message"]
    with tenant_context(org_b):
        assert not PhoneNumber.objects.exists()


def test_rules_are_replaced_in_the_order_given_and_deleting_frees_the_number(
    admin_api, alpha, make_agent, make_number
):
    with alpha():
        one, two = make_agent(), make_agent()
        number = make_number(agent=one, rules=[{"caller_prefix": "+44", "agent_id": one.pk}])

    changed = admin_api.patch(
        f"{URL}{number.pk}/",
        {
            "rules": [
                {"name": "first", "caller_prefix": "1415", "agent_id": two.pk},
                {"name": "second", "caller_country": "us", "agent_id": one.pk},
            ]
        },
        format="json",
    )
    bad_rule = admin_api.patch(
        f"{URL}{number.pk}/",
        {"rules": [{"start_time": "09:00", "agent_id": one.pk}]},
        format="json",
    )

    assert changed.status_code == 200, changed.content
    rules = changed.json()["rules"]
    assert [(r["name"], r["position"], r["caller_prefix"], r["caller_country"]) for r in rules] == [
        ("first", 0, "+1415", ""),
        ("second", 1, "", "US"),
    ]
    assert bad_rule.status_code == 400
    assert "rules[0].end_time" in bad_rule.json()["error"]["details"]["fields"]
    with alpha():
        assert RoutingRule.objects.filter(phone_number=number).count() == 2

    assert admin_api.delete(f"{URL}{number.pk}/").status_code == 204
    with schema_context("public"):
        assert not PhoneNumberClaim.objects.filter(number=OUR_NUMBER).exists()


@pytest.mark.parametrize("role, can_write", [("viewer", False), ("member", False), ("admin", True)])
def test_viewers_read_numbers_and_admins_manage_them(
    role, can_write, org_a, make_api_key, bearer, alpha, make_number
):
    with alpha():
        number = make_number()
    client = bearer(make_api_key(org_a, role))

    listed = client.get(f"{URL}?provider=twilio&ordering=-number")
    created = client.post(URL, {"number": "+14155550101"}, format="json")
    changed = client.patch(f"{URL}{number.pk}/", {"friendly_name": "x"}, format="json")

    assert listed.status_code == 200 and listed.json()["results"][0]["number"] == OUR_NUMBER
    assert created.status_code == (201 if can_write else 403)
    assert changed.status_code == (200 if can_write else 403)


def test_importing_the_twilio_account_adds_new_numbers_and_skips_taken_ones(
    twilio, admin_api, org_b, alpha
):
    for index in range(5):  # more than one page
        twilio.add_number(f"+1415555020{index}", friendly_name=f"Line {index}")
    twilio.add_number("+14155550300", voice=True, sms=False)
    with tenant_context(org_b):
        from calls.services import phone_number_create

        phone_number_create(number="+14155550300")
    from calls.telephony.twilio import TwilioClient

    TwilioClient.numbers_page_size, page_size = 2, TwilioClient.numbers_page_size
    try:
        first = admin_api.post(f"{URL}import/", {}, format="json")
        second = admin_api.post(f"{URL}import/", {"provider": "twilio"}, format="json")
    finally:
        TwilioClient.numbers_page_size = page_size

    assert first.status_code == 200, first.content
    assert first.json() == {
        "created": [f"+1415555020{i}" for i in range(5)],
        "updated": [],
        "skipped": ["+14155550300"],
        # Imported numbers get our voice, status and SMS URLs on the carrier.
        "configured": [f"+1415555020{i}" for i in range(5)],
        "configuration_errors": {},
    }
    assert len(second.json()["updated"]) == 5 and not second.json()["created"]
    with alpha():
        line = PhoneNumber.objects.get(number="+14155550202")
    assert (line.friendly_name, line.provider_id[:2]) == ("Line 2", "PN")


def test_an_import_the_carrier_refuses_is_a_502_with_its_code(twilio, admin_api):
    twilio.fail_next("IncomingPhoneNumbers", status=401, code=20003, message="Authenticate")

    response = admin_api.post(f"{URL}import/", {}, format="json")

    assert response.status_code == 502
    assert response.json()["error"]["details"]["carrier_code"] == "20003"


def test_time_fields_round_trip(admin_api, alpha, make_agent):
    with alpha():
        agent = make_agent()
    response = admin_api.post(
        URL,
        {
            "number": OUR_NUMBER,
            "rules": [{"start_time": "22:00", "end_time": "06:00", "agent_id": agent.pk}],
        },
        format="json",
    )

    assert response.status_code == 201
    with alpha():
        rule = RoutingRule.objects.get()
    assert (rule.start_time, rule.end_time) == (dt.time(22), dt.time(6))
