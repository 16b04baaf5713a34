"""Many processes, one product: two uvicorn processes and two Celery workers share PostgreSQL
and Redis, and nothing one process holds in memory is needed by another.

An outbound call is placed through the API of process A and dialed by one of the workers
(eager mode off) through the fake carrier; the carrier's media stream lands on process B,
while the answering-machine verdict and the final callback land on A. Every process believes
it is ``PUBLIC_BASE_URL`` (the load balancer's address, as in production), so the carrier
signs for that host and the test, playing the balancer, sends each request where it wants.
The call must come out exactly as on one process: the voicemail message played and the call
ended with the same status and the same timeline as the single-process run (the session's
daphne, tasks eager, as in test_bridge_flows.py). A second call is ended through the API on A
while its stream is on B."""

from __future__ import annotations

import collections
import concurrent.futures
import os
import subprocess
import sys
import time
from urllib.parse import urlsplit

import httpx
import pytest
from channels.db import database_sync_to_async as sync_to_async
from django_tenants.utils import tenant_context

from calls.models import CallEvent
from calls.services import phone_number_create
from organizations.services import api_key_create
from tests.calls.bridge_support import wait_for_final, wait_until
from tests.calls.telephony_support import stream_of
from tests.conftest import settings_redis_db
from tests.fakes.carrier_media import TwilioMediaClient
from tests.fakes.twilio_rest import TwilioCallbackDriver
from tests.servers import ROOT, DaphneServer

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("committed_db")]

BALANCER = "http://lb.voiceagents.test"
CALLEE = "+14155550199"
BROKER_DB = 14  # not the development one (0) nor the tests' cache (15)


class Worker:
    """``celery -A voiceagents worker`` in a subprocess, with the servers' environment."""

    def __init__(self, env: dict[str, str], name: str) -> None:
        self.name = name
        self.env = env
        self.log_path = ROOT / "var" / f"celery-{name}-test-{os.getpid()}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "voiceagents",
                "worker",
                "--pool",
                "solo",
                "--hostname",
                f"{self.name}-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited: {self.log()[-3000:]}")
            if " ready." in self.log():
                return
            time.sleep(0.1)
        raise RuntimeError(f"worker {self.name} not ready: {self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
def deployment(_server_env):
    """Processes A and B (uvicorn) and two workers, all pointed at the test database, the
    run's cache and channel layer, and a task queue of this run's own."""
    env = {
        **_server_env,
        "PUBLIC_BASE_URL": BALANCER,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_BROKER_URL": settings_redis_db(BROKER_DB),
        "CELERY_QUEUE": f"va-test-{os.getpid()}-multiprocess",
        "LOG_LEVEL": "INFO",
    }
    servers = [
        DaphneServer(env=env, server="uvicorn", name=name) for name in ("process-a", "process-b")
    ]
    workers = [Worker(servers[0].env, name) for name in ("worker-1", "worker-2")]
    started = time.monotonic()
    try:
        for worker in workers:
            worker.start()
        with concurrent.futures.ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(DaphneServer.start, servers))
        for worker in workers:
            worker.wait_ready()
        yield {"a": servers[0], "b": servers[1], "workers": workers, "started": started}
    finally:
        # All asked to stop at once, then each waited for (or killed).
        for process in [*servers, *workers]:
            if process.process is not None and process.process.poll() is None:
                process.process.terminate()
        for process in [*servers, *workers]:
            process.stop()


def _setup(org):
    from agents.services import agent_create

    with tenant_context(org):
        agent = agent_create(
            name="Collections",
            first_message="Hello {{customer_name}}!",
            voicemail_message="Hi {{customer_name}}, this is Acme. Please call us back.",
        )
        phone_number_create(number="+14155550100", provider="twilio", agent_id=agent.pk)
    _key, raw = api_key_create(organization=org, name="multiprocess", role="member")
    return agent, raw


def _timeline(org, call_id):
    with tenant_context(org):
        return list(CallEvent.objects.filter(call_id=call_id).values_list("name", flat=True))


def _on(server, public_url: str) -> str:
    """``public_url`` as the balancer would forward it to ``server``."""
    parts = urlsplit(public_url)
    base = server.ws_url if parts.scheme in ("ws", "wss") else server.base_url
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


async def _post(server, triple) -> httpx.Response:
    url, params, headers = triple
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(_on(server, url), data=params, headers=headers)
    assert response.status_code in (200, 204), response.text
    return response


class Ref:
    def __init__(self, pk: int) -> None:
        self.pk = pk


async def _start_call(api_server, key: str, agent, fake_twilio_rest) -> tuple[int, str]:
    dialed = len(fake_twilio_rest.requests_to("Calls", "POST"))
    async with httpx.AsyncClient(base_url=api_server.base_url, timeout=10) as api:
        created = await api.post(
            "/api/v1/calls/",
            json={
                "agent_id": agent.pk,
                "to_phone": CALLEE,
                "variables": {"customer_name": "Grace"},
            },
            headers={"Authorization": f"Bearer {key}"},
        )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "queued"
    await wait_until(
        lambda: len(fake_twilio_rest.requests_to("Calls", "POST")) > dialed,
        timeout=20,
        what="the dial",
    )
    call_sid = [sid for sid, c in fake_twilio_rest.calls.items() if c.to == CALLEE][-1]
    return created.json()["id"], call_sid


async def _voicemail_call(
    *, api, webhooks, media, key, agent, org, fake_twilio_rest, fake_openai
) -> tuple[object, list[str]]:
    """The voicemail flow of test_bridge_flows.py: the API on ``api``, the carrier's webhooks
    on ``webhooks``, its media stream on ``media``. Returns the final call and its timeline."""
    call_id, call_sid = await _start_call(api, key, agent, fake_twilio_rest)
    driver = TwilioCallbackDriver.for_call(fake_twilio_rest, call_sid)
    answer = await _post(webhooks, driver.answer())
    stream_url, parameters = stream_of(answer.text)
    client = TwilioMediaClient(
        _on(media, stream_url), call_sid=call_sid, custom_parameters=parameters
    )
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        await _post(webhooks, driver.machine_detection("machine_end_beep"))
        await wait_until(lambda: client.closed_at is not None, timeout=15, what="hangup")
    says = [
        e["response"]["instructions"]
        for e in fake_openai.current.of_type("response.create")
        if "instructions" in (e.get("response") or {})
    ]
    assert any("Hi Grace, this is Acme. Please call us back." in text for text in says), says
    await _post(webhooks, driver.status("completed", duration=12))
    ended = await wait_for_final(org, Ref(call_id))
    return ended, await sync_to_async(_timeline)(org, call_id)


async def test_a_call_behaves_the_same_across_two_servers_and_two_workers(
    deployment, daphne, fake_openai, fake_twilio_rest, script, org_a
):
    agent, key = await sync_to_async(_setup)(org_a)
    a, b = deployment["a"], deployment["b"]
    startup = time.monotonic() - deployment["started"]
    flows = time.monotonic()

    # One process (the session's daphne, tasks run in it): the reference.
    reference, reference_timeline = await _voicemail_call(
        api=daphne,
        webhooks=daphne,
        media=daphne,
        key=key,
        agent=agent,
        org=org_a,
        fake_twilio_rest=fake_twilio_rest,
        fake_openai=fake_openai,
    )
    # Processes A and B and the workers.
    ended, timeline = await _voicemail_call(
        api=a,
        webhooks=a,
        media=b,
        key=key,
        agent=agent,
        org=org_a,
        fake_twilio_rest=fake_twilio_rest,
        fake_openai=fake_openai,
    )

    expected = ("completed", "voicemail", "machine")
    assert (reference.status, reference.end_reason, reference.answered_by) == expected
    assert (ended.status, ended.end_reason, ended.answered_by) == expected
    assert collections.Counter(timeline) == collections.Counter(reference_timeline), (
        timeline,
        reference_timeline,
    )
    # It really was spread out: a worker dialed, B held the media stream, A the webhooks.
    assert any("calls.call_place" in worker.log() for worker in deployment["workers"])
    assert "WebSocket /ws/twilio/media/" in b.log_tail(200_000)
    assert "WebSocket /ws/twilio/media/" not in a.log_tail(200_000)

    # A second call, ended through the API on A while its stream is on B.
    call_id, call_sid = await _start_call(a, key, agent, fake_twilio_rest)
    driver = TwilioCallbackDriver.for_call(fake_twilio_rest, call_sid)
    answer = await _post(a, driver.answer())
    stream_url, parameters = stream_of(answer.text)
    client = TwilioMediaClient(_on(b, stream_url), call_sid=call_sid, custom_parameters=parameters)
    async with client:
        await wait_until(lambda: client.audio_received, what="greeting")
        async with httpx.AsyncClient(base_url=a.base_url, timeout=10) as api:
            end = await api.post(
                f"/api/v1/calls/{call_id}/end/", headers={"Authorization": f"Bearer {key}"}
            )
        assert end.status_code == 200, end.text
        # The carrier hangs up (the fake recorded it) and closes the stream, as Twilio does.
        hangups = [u for u in fake_twilio_rest.calls[call_sid].updates if u.get("Status")]
        assert hangups and hangups[-1]["Status"] == ["completed"]
        await client.hangup()
    await _post(a, driver.status("completed", duration=4))
    by_api = await wait_for_final(org_a, Ref(call_id))
    assert (by_api.status, by_api.end_reason) == ("completed", "agent_hangup")
    api_timeline = await sync_to_async(_timeline)(org_a, call_id)
    assert "hangup" in api_timeline and "media_stream_started" in api_timeline

    total = time.monotonic() - deployment["started"]
    print(
        f"\nmulti-process: processes up in {startup:.1f} s, both calls in "
        f"{time.monotonic() - flows:.1f} s, {total:.1f} s in all"
    )
    assert total < 60
