"""A phone number's page in the console: the URLs to configure at its carrier, each with a copy
button, its routing rules, and "Test a route" for this very number."""

import pytest
from django.test import Client

from calls.telephony.urls import carrier_webhook_urls
from tests.calls.telephony_support import OUR_NUMBER

pytestmark = pytest.mark.django_db

BASE = "/admin/calls/phonenumber/"


@pytest.fixture
def viewer(org_a, make_member):
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org_a, "viewer"))
    return client


@pytest.mark.parametrize("provider", ["twilio", "plivo"])
def test_the_number_page_shows_the_carrier_urls_to_configure(
    viewer, alpha, make_number, provider, settings
):
    settings.PUBLIC_BASE_URL = "https://voice.example.test"
    with alpha():
        number = make_number(provider=provider)

    page = viewer.get(f"{BASE}{number.pk}/change/").content.decode()

    urls = carrier_webhook_urls(provider)
    for kind in ("voice", "status", "sms"):
        assert urls[kind].startswith("https://voice.example.test/")
        assert f'<code data-url="{kind}" id="carrier-url-{kind}">{urls[kind]}</code>' in page
        assert f'data-copy="carrier-url-{kind}"' in page
    assert ("Answer URL" in page) == (provider == "plivo")
    assert ("A call comes in" in page) == (provider == "twilio")


def test_the_number_page_links_the_test_route_form_for_this_number(
    viewer, alpha, make_number, make_agent
):
    with alpha():
        agent = make_agent(name="Front desk")
        number = make_number(
            agent=agent, rules=[{"name": "SF", "caller_prefix": "+1415", "agent_id": agent.pk}]
        )

    page = viewer.get(f"{BASE}{number.pk}/change/").content.decode()
    link = f"{BASE}test-route/?to=%2B{OUR_NUMBER[1:]}"
    assert link in page
    assert "SF" in page  # the rules inline

    form = viewer.get(link).content.decode()
    assert f'<option value="{OUR_NUMBER}" selected>' in form


def test_the_add_page_shows_no_carrier_urls_yet(org_a, make_member):
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org_a, "admin"))

    page = client.get(f"{BASE}add/")

    assert page.status_code == 200 and b"data-carrier-urls" not in page.content
