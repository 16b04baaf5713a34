"""Every client that needs a key gets the organization's (embeddings included), and the secret
goes nowhere else: not into logs, error messages or Celery task arguments."""

from __future__ import annotations

import logging

import pytest
from celery.signals import task_prerun
from django_tenants.utils import tenant_context

from knowledge import selectors as knowledge_selectors
from knowledge import services as knowledge_services
from tests.calls.telephony_support import PUBLIC, post_webhook, twilio_headers
from tests.fakes import openai_http
from tests.fakes.openai_http import FakeOpenAIEmbeddings
from tests.fakes.twilio_rest import TwilioCallbackDriver
from tests.integrations.conftest import token

pytestmark = pytest.mark.django_db

MODEL = "openai/text-embedding-3-small"


@pytest.fixture
def openai_fake(settings):
    with FakeOpenAIEmbeddings() as fake:
        settings.OPENAI_API_KEY = openai_http.API_KEY  # the platform's
        settings.OPENAI_BASE_URL = fake.base_url
        settings.CELERY_TASK_ALWAYS_EAGER = True
        yield fake


def _keys_seen(fake) -> list[str]:
    return [r.headers["authorization"].removeprefix("Bearer ") for r in fake.requests]


def test_embeddings_use_the_organizations_key_and_b_the_platforms(
    openai_fake, org_a, org_b, make_credential, django_capture_on_commit_callbacks
):
    own = "sk-alpha-" + token()
    openai_fake.api_keys.add(own)
    make_credential(org_a, "openai", own)

    seen = {}
    for org in (org_a, org_b):
        openai_fake.requests.clear()
        with tenant_context(org), django_capture_on_commit_callbacks(execute=True):
            knowledge_base = knowledge_services.knowledge_base_create(
                name="FAQ", embedding_model=MODEL
            )
            knowledge_services.document_add(
                knowledge_base=knowledge_base, title="Hours", content="We open at nine."
            )
        with tenant_context(org):
            assert knowledge_selectors.search(knowledge_base_id=knowledge_base.pk, query="open")
        seen[org.slug] = _keys_seen(openai_fake)

    assert len(seen["alpha"]) == 2 and set(seen["alpha"]) == {own}  # ingestion, then the query
    assert len(seen["beta"]) == 2 and set(seen["beta"]) == {openai_http.API_KEY}


def test_an_embedding_model_without_a_usable_key_is_refused_saying_what_to_add(settings, org_a):
    settings.OPENAI_API_KEY = ""

    from voiceagents.exceptions import ValidationFailed

    with tenant_context(org_a), pytest.raises(ValidationFailed) as refused:
        knowledge_services.knowledge_base_create(name="FAQ", embedding_model=MODEL)

    (problem,) = refused.value.details["fields"]["embedding_model"]
    assert "/api/v1/credentials/" in problem and "OPENAI_API_KEY" in problem


def test_no_secret_in_logs_or_task_arguments_through_a_whole_call(
    twilio, org_a, make_credential, make_agent, make_number, dial, caplog, make_api_key, bearer
):
    sid, auth_token = twilio.add_account(auth_token=token())
    twilio.add_number("+14155550100", account_sid=sid)
    tasks: list[tuple] = []

    def record(sender=None, task_id=None, task=None, args=None, kwargs=None, **_):
        tasks.append((task.name if task else sender, args, kwargs))

    task_prerun.connect(record, weak=False)
    caplog.set_level(logging.DEBUG)
    try:
        admin = bearer(make_api_key(org_a, "admin"))
        created = admin.post(
            "/api/v1/credentials/",
            {"kind": "twilio", "identifiers": {"account_sid": sid}, "secret": auth_token},
            format="json",
        )
        admin.post(f"/api/v1/credentials/{created.json()['id']}/verify/", {}, format="json")
        with tenant_context(org_a):
            agent = make_agent()
            make_number(agent=agent)
            call = dial(agent_id=agent.pk)
        driver = TwilioCallbackDriver.for_call(twilio, call.provider_call_id)
        post_webhook(*driver.status("ringing"))
        voice = f"{PUBLIC}/telephony/twilio/voice"
        forged = {"CallSid": "CA" + "9" * 32, "From": "+14155550199", "To": "+14155550100"}
        refused = post_webhook(voice, forged, twilio_headers(voice, forged, token="wrong"))
    finally:
        task_prerun.disconnect(record)

    assert refused.status_code == 403
    assert tasks and all(call.pk in (kwargs or {}).values() for _name, _args, kwargs in tasks)
    for name, args, kwargs in tasks:
        assert auth_token not in f"{name}{args}{kwargs}"
    assert caplog.records
    assert auth_token not in caplog.text
    for record_ in caplog.records:
        assert auth_token not in str(record_.__dict__)
