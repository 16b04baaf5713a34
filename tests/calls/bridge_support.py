"""Fixtures for end-to-end bridge tests: daphne in a subprocess, the provider fakes it talks
to, and helpers to create a committed call and dial its media stream like a carrier."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from agents.services import agent_create
from calls.models import Call
from calls.stream_tokens import stream_token_issue
from tests.fakes.openai_realtime import FakeOpenAIRealtime, Script
from tests.servers import DaphneServer, ThreadedServer


@pytest.fixture(scope="session")
def fake_openai():
    fake = FakeOpenAIRealtime(script=Script()).start_in_thread()
    yield fake
    fake.stop_thread()


@pytest.fixture(scope="session")
def fake_twilio_rest():
    from tests.fakes.twilio_rest import FakeTwilioRest

    fake = FakeTwilioRest()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def fake_gemini(tmp_path_factory):
    from tests.fakes.gemini_live import FakeGeminiLive

    server = ThreadedServer(FakeGeminiLive(pace=0.5))
    ca_file = tmp_path_factory.mktemp("gemini") / "ca.pem"
    ca_file.write_bytes(server.fake.ca_pem)
    server.ca_file = str(ca_file)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_hume():
    from tests.fakes.hume_evi import FakeHumeEVI

    server = ThreadedServer(FakeHumeEVI(pace=0.5))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def daphne(_server_env):
    server = DaphneServer(env=_server_env).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def uvicorn_server(_server_env):
    server = DaphneServer(env=_server_env, server="uvicorn").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _server_env(
    django_db_setup, fake_openai, fake_gemini, fake_hume, fake_twilio_rest, _channel_layer_namespace
):
    return {
        "OPENAI_API_KEY": fake_openai.api_key,
        "OPENAI_BASE_URL": fake_openai.base_url,
        "GEMINI_API_KEY": fake_gemini.fake.api_key,
        "GEMINI_BASE_URL": fake_gemini.fake.base_url,
        # google-genai builds its TLS context from SSL_CERT_FILE: trust the fake's CA.
        "SSL_CERT_FILE": fake_gemini.ca_file,
        "HUME_API_KEY": fake_hume.fake.api_key,
        "HUME_BASE_URL": fake_hume.fake.base_url,
        "TWILIO_ACCOUNT_ID": fake_twilio_rest.account_sid,
        "TWILIO_AUTH_TOKEN": fake_twilio_rest.auth_token,
        "TWILIO_API_BASE_URL": fake_twilio_rest.base_url,
        "CHANNELS_PREFIX": _channel_layer_namespace,
        # Outbound calls are dialed by a Celery task; in this server it runs inline.
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }


@pytest.fixture(scope="session")
def _channel_layer_namespace():
    """This run's Channels prefix, shared with its daphne, so group messages sent from tests
    reach the consumers and no other test run's."""
    import os

    from django.test import override_settings

    prefix = f"va-test-{os.getpid()}:ch"
    layers = {"default": {**settings.CHANNEL_LAYERS["default"]}}
    layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "prefix": prefix}
    with override_settings(CHANNEL_LAYERS=layers):
        from channels.layers import channel_layers

        channel_layers.backends.clear()
        yield prefix
        channel_layers.backends.clear()


async def send_control(org, call: Call, **message: Any) -> None:
    from channels.layers import get_channel_layer

    from calls.control import control_group

    await get_channel_layer().group_send(
        control_group(schema_name=org.schema_name, call_id=call.pk),
        {"type": "call.control", **message},
    )


def agent_tweak(org, call: Call, **fields: Any) -> None:
    """Set agent fields the API would refuse (e.g. a 2 s max duration) so timers fire within a
    test; the bridge reads the agent when the stream connects."""
    from agents.config import config_cache_invalidate
    from agents.models import Agent

    with tenant_context(org):
        Agent.objects.filter(pk=call.agent_id).update(**fields)
        config_cache_invalidate(agent_id=call.agent_id)


@pytest.fixture
def script(fake_openai):
    """The fake model's script for this test (reset afterwards)."""
    fake_openai.script = Script()
    yield fake_openai.script
    fake_openai.script = Script()


def make_call(
    org, *, provider: str = "twilio", variables: dict | None = None, **agent_config: Any
) -> Call:
    """A committed inbound call answered by a new agent (requires committed_db)."""
    config = {
        "system_prompt": "You are helpful. The caller is {{customer_name}}.",
        "first_message": "Hello {{customer_name}}, thanks for calling.",
        "silence_timeout_seconds": 30,
        **agent_config,
    }
    ai_provider = config.pop("ai_provider", "openai")
    with tenant_context(org):
        agent = agent_create(name="Bridge agent", ai_provider=ai_provider, **config)
        return Call.objects.create(
            direction="inbound",
            provider=provider,
            from_number="+14155550111",
            to_number="+14155550100",
            agent=agent,
            agent_version=agent.versions.first(),
            status="ringing",
            variables=variables or {"customer_name": "Ada"},
        )


def media_url(server: DaphneServer, org, call: Call, *, provider: str = "twilio") -> str:
    token = stream_token_issue(schema_name=org.schema_name, call_id=call.pk)
    return f"{server.ws_url}/ws/{provider}/media/{token}"


def reload_call(org, call: Call) -> Call:
    with tenant_context(org):
        return Call.objects.get(pk=call.pk)


async def wait_until(predicate: Callable[[], Any], *, timeout: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.02)


async def wait_for_final(org, call: Call, *, timeout: float = 10.0) -> Call:
    from channels.db import database_sync_to_async

    deadline = time.monotonic() + timeout
    while True:
        fresh = await database_sync_to_async(reload_call)(org, call)
        if fresh.is_final:
            return fresh
        if time.monotonic() > deadline:
            raise AssertionError(f"call {call.pk} not final: {fresh.status}")
        await asyncio.sleep(0.05)
