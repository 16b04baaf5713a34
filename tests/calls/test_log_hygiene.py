"""No secret in the servers' logs: daphne and uvicorn (its access log on), at DEBUG, carry an
outbound call placed with an API key, its media stream (a single-use token in the URL), a
refused reuse of that token and API requests with secrets in the query string; then their
whole log output is scanned."""

from __future__ import annotations

import secrets

import httpx
import pytest
from channels.db import database_sync_to_async as sync_to_async
from django_tenants.utils import tenant_context
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from calls.services import phone_number_create
from organizations.services import api_key_create
from tests.calls.bridge_support import wait_for_final, wait_until
from tests.calls.telephony_support import stream_of
from tests.fakes.carrier_media import TwilioMediaClient
from tests.fakes.twilio_rest import TwilioCallbackDriver
from tests.servers import DaphneServer

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("committed_db")]


@pytest.fixture(params=["daphne", "uvicorn"])
def chatty_server(request, _server_env):
    """A server of its own logging everything (DEBUG; uvicorn with its access log)."""
    server = DaphneServer(
        env={**_server_env, "LOG_LEVEL": "DEBUG"},
        server=request.param,
        extra_args=["--access-log"] if request.param == "uvicorn" else [],
        name="hygiene",
    ).start()
    yield server
    server.stop()


def _setup(org):
    from agents.services import agent_create

    with tenant_context(org):
        agent = agent_create(name="Hygiene", first_message="Hello!")
        phone_number_create(number="+14155550100", provider="twilio", agent_id=agent.pk)
    _key, raw = api_key_create(organization=org, name="hygiene", role="member")
    return agent, raw


async def _post_signed(triple):
    url, params, headers = triple
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(url, data=params, headers=headers)


async def test_no_token_key_or_secret_reaches_the_server_log(
    chatty_server, fake_openai, fake_twilio_rest, script, org_a
):
    server = chatty_server
    agent, api_key = await sync_to_async(_setup)(org_a)
    invitation_token = secrets.token_urlsafe(32)
    auth = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as api:
        created = await api.post(
            "/api/v1/calls/", json={"agent_id": agent.pk, "to_phone": "+14155550199"}, headers=auth
        )
        assert created.status_code == 201, created.text
        # Secrets in query strings end up in access logs unless masked.
        await api.get(f"/api/v1/calls/?key={api_key}", headers=auth)
        await api.get(f"/api/v1/invitations/accept/?token={invitation_token}")

    call_sid = [s for s, c in fake_twilio_rest.calls.items() if c.to == "+14155550199"][-1]
    driver = TwilioCallbackDriver.for_call(fake_twilio_rest, call_sid)
    answer = await _post_signed(driver.answer())
    stream_url, parameters = stream_of(answer.text)
    stream_token = stream_url.rsplit("/", 1)[-1]
    client = TwilioMediaClient(stream_url, call_sid=call_sid, custom_parameters=parameters)
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        with pytest.raises(InvalidStatus):  # the token is single use: refused, and logged
            async with connect(stream_url):
                pass
        await client.hangup()
    await _post_signed(driver.status("completed", duration=3))

    class Ref:
        pk = created.json()["id"]

    await wait_for_final(org_a, Ref)
    server.stop()
    log = server.log_path.read_text()

    assert "media_stream_refused" in log  # the reused token's refusal was logged
    if server.server == "uvicorn":  # its own lines name the socket's path (masked)
        assert '"WebSocket /ws/twilio/media/[redacted]"' in log.replace('\\"', '"'), log[-3000:]
    for name, secret in {
        "media stream token": stream_token,
        "API key": api_key,
        "invitation token": invitation_token,
        "Twilio auth token": fake_twilio_rest.auth_token,
    }.items():
        assert secret not in log, f"the {name} is in the {server.server} log"
    assert "Traceback" not in log
