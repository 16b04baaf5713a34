"""Fixtures for the telephony tests (registered in conftest.py): the carriers' loopback REST
fakes wired in through settings (the code under test builds its clients from settings, as in
production), eager Celery, and helpers that post webhooks signed exactly as the carriers sign
them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from tests.fakes import plivo_rest, twilio_rest

PUBLIC = "https://voice.example.com"
OUR_NUMBER = "+14155550100"
CALLER = "+14155550199"
HUMAN = "+14155550123"
AI_KEY_SETTINGS = ("OPENAI_API_KEY", "GEMINI_API_KEY", "HUME_API_KEY")


@pytest.fixture
def telephony_settings(settings):
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Starting a call checks that its agent's model has a key (no model is reached here).
    for name in AI_KEY_SETTINGS:
        setattr(settings, name, getattr(settings, name, "") or f"test-{name.lower()}")
    return settings


@pytest.fixture
def twilio(telephony_settings) -> Iterator[twilio_rest.FakeTwilioRest]:
    with twilio_rest.FakeTwilioRest() as fake:
        telephony_settings.TWILIO_ACCOUNT_ID = fake.account_sid
        telephony_settings.TWILIO_AUTH_TOKEN = fake.auth_token
        telephony_settings.TWILIO_API_BASE_URL = fake.base_url
        yield fake


@pytest.fixture
def plivo(telephony_settings) -> Iterator[plivo_rest.FakePlivoRest]:
    with plivo_rest.FakePlivoRest() as fake:
        telephony_settings.PLIVO_AUTH_ID = fake.auth_id
        telephony_settings.PLIVO_AUTH_TOKEN = fake.auth_token
        telephony_settings.PLIVO_API_BASE_URL = fake.base_url
        yield fake


@pytest.fixture
def alpha(org_a):
    """``with alpha():`` runs a block in alpha's schema. Requests through the test client
    switch the connection's schema (middleware, API auth), so assertions re-enter it."""

    @contextmanager
    def activate():
        with tenant_context(org_a):
            yield org_a

    return activate


@pytest.fixture
def make_agent():
    from tests.agents.factories import AgentFactory

    def make(**fields):
        return AgentFactory(**fields)

    return make


@pytest.fixture
def make_number():
    from calls import services

    def make(number=OUR_NUMBER, *, provider="twilio", agent=None, rules=None, **fields):
        return services.phone_number_create(
            number=number,
            provider=provider,
            agent_id=agent.pk if agent else None,
            rules=rules,
            **fields,
        )

    return make


# --- webhooks, signed as the carriers sign them ---------------------------------------------------


def twilio_headers(url: str, params: dict[str, str], *, token: str = twilio_rest.AUTH_TOKEN):
    return {"X-Twilio-Signature": twilio_rest.twilio_signature(token, url, params)}


def plivo_headers(url: str, params: dict[str, str], *, token: str = plivo_rest.AUTH_TOKEN):
    nonce = str(secrets.randbelow(10**20))
    return {
        "X-Plivo-Signature-V3": plivo_rest.plivo_signature_v3(token, url, params, nonce),
        "X-Plivo-Signature-V3-Nonce": nonce,
    }


def post_webhook(url: str, params: dict[str, str], headers: dict[str, str]):
    """POST a carrier webhook to the main host, as the carrier requests ``url`` (a public
    URL: only its path and query reach us, as behind a proxy)."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return Client().post(
        path,
        urlencode(params, doseq=True),
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


def signed_post(url: str, params: dict[str, str]):
    """Sign for whichever carrier the URL belongs to and post."""
    sign = plivo_headers if "/telephony/plivo/" in url else twilio_headers
    return post_webhook(url, params, sign(url, params))


def send(triple):
    """Post one ``(url, params, headers)`` from a fake's callback driver."""
    url, params, headers = triple
    return post_webhook(url, params, headers)


def stream_of(twiml: str) -> tuple[str, dict[str, str]]:
    """The media URL and parameters of a TwiML ``<Connect><Stream>`` answer."""
    from xml.etree import ElementTree as ET

    stream = ET.fromstring(twiml).find("./Connect/Stream")
    assert stream is not None, twiml
    parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    return stream.get("url"), parameters


@pytest.fixture
def dial(django_capture_on_commit_callbacks):
    """dial(agent_id=..., to_phone=...) -> the Call, placed through the carrier fake (the
    Celery task runs eagerly when the transaction commits)."""
    from calls import services
    from calls.models import Call

    def run(**kwargs):
        kwargs.setdefault("to_phone", CALLER)
        with django_capture_on_commit_callbacks(execute=True):
            call = services.call_initiate(**kwargs)
        return Call.objects.get(pk=call.pk)

    return run
