"""A live call watched from its page: the transcript grows as the call goes, with no reload,
and a member ends the call from the page; a viewer watches the same page with no button.

The call is real end to end: the carrier's media stream (the Twilio client of tests/fakes,
in a thread of its own) reaches the server, whose bridge talks to the fake realtime model; the
page's script follows it over the operator's WebSocket (calls.consumers_live). The server here
is one with the fakes' settings (tests/calls/bridge_support.py), on alpha's domain."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from calls import services
from calls.models import Call
from organizations.models import Role
from tests.browser.conftest import SCREENSHOTS, log_in, make_admin

# The bridge tests' fixtures (the fakes and the servers' settings), registered here; the
# parameters that take them below redefine these names (F811).
from tests.calls.bridge_support import (  # noqa: F401
    _channel_layer_namespace,
    _server_env,
    fake_gemini,
    fake_hume,
    fake_openai,
    fake_twilio_rest,
    make_call,
    media_url,
    script,
)
from tests.fakes.carrier_media import TwilioMediaClient, caller_turn
from tests.fakes.twilio_rest import FakeCall
from tests.servers import ROOT, DaphneServer

# The browser tests' data is committed (the ``alpha`` fixture: committed_db).
pytestmark = [pytest.mark.browser]

CALL_SID = "CA" + "7" * 32
GREETING = "Hello Ada, thanks for calling."
CALLER_SAYS = "I have a question about my order."


@pytest.fixture(scope="module")
def monitor_server(_server_env):  # noqa: F811
    """The application with the fakes' settings (the model, the carrier's REST API, this run's
    channel layer), serving the collected static files as in production."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        check=True,
    )
    server = DaphneServer(env=_server_env, server="uvicorn", name="browser-live").start()
    yield server
    server.stop()


@pytest.fixture
def alpha_url(monitor_server) -> str:
    return f"http://alpha.localhost:{monitor_server.port}"


class Carrier:
    """The caller's side of the call in a thread: the media stream opened, the greeting heard,
    the caller's turn spoken on ``speak()``, and the stream closed once the carrier was told to
    hang up (as Twilio does after the API's hang-up)."""

    def __init__(self, url: str, fake) -> None:
        self.url = url
        self.fake = fake
        self.greeted = threading.Event()
        self._speak = threading.Event()
        self.closed = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Carrier:
        self.thread.start()
        assert self.greeted.wait(20), self.error or "no greeting"
        return self

    def speak(self) -> None:
        self._speak.set()

    def _hung_up(self) -> bool:
        return any(u.get("Status") == ["completed"] for u in self.fake.calls[CALL_SID].updates)

    def _run(self) -> None:
        try:
            asyncio.run(self._call())
        except BaseException as exc:  # reported by start() or join()
            self.error = exc
        finally:
            self.closed.set()

    async def _call(self) -> None:
        client = TwilioMediaClient(self.url, call_sid=CALL_SID)
        async with client:
            while not client.audio_received:
                await asyncio.sleep(0.05)
            self.greeted.set()
            deadline = time.monotonic() + 60
            spoken = False
            while not self._hung_up() and time.monotonic() < deadline:
                if self._speak.is_set() and not spoken:
                    spoken = True
                    await client.send_audio(caller_turn(speech_ms=600, silence_ms=700))
                await asyncio.sleep(0.05)
            await client.hangup()

    def join(self) -> None:
        assert self.closed.wait(30), "the media stream is still open"
        assert self.error is None, self.error


@pytest.fixture
def live_call(alpha, monitor_server, fake_twilio_rest, script, settings):  # noqa: F811
    """A call answered by an agent, its media stream up and the greeting heard."""
    # This process ends the call after the test if the page did not: through the fake too.
    settings.TWILIO_ACCOUNT_ID = fake_twilio_rest.account_sid
    settings.TWILIO_AUTH_TOKEN = fake_twilio_rest.auth_token
    settings.TWILIO_API_BASE_URL = fake_twilio_rest.base_url
    call = make_call(alpha)
    # The caller's call, as the carrier knows it (the hang-up goes to its REST API).
    fake_twilio_rest.calls[CALL_SID] = FakeCall(
        sid=CALL_SID, to=call.to_number, from_=call.from_number, status="in-progress", params={}
    )
    carrier = Carrier(media_url(monitor_server, alpha, call), fake_twilio_rest).start()
    yield call, carrier
    with tenant_context(alpha):
        if not Call.objects.get(pk=call.pk).is_final:
            services.call_end(call_id=call.pk)
    carrier.join()
    fake_twilio_rest.calls.pop(CALL_SID, None)


@pytest.mark.django_db
def test_the_page_opens_the_socket_the_server_routes():
    """(Also what makes pytest-django create the test database when this module runs alone:
    it does so only for a run with a ``django_db`` test in it.)"""
    from calls.live_monitor import live_ws_path
    from calls.routing import websocket_urlpatterns

    path = live_ws_path(call_id=5).lstrip("/")
    assert any(route.pattern.match(path) for route in websocket_urlpatterns)


def test_a_member_watches_the_transcript_grow_and_ends_the_call_from_its_page(
    page, alpha, live_call
):
    call, carrier = live_call
    log_in(page, make_admin(alpha, role=Role.MEMBER), host="alpha.localhost")
    page.goto(f"/admin/calls/call/{call.pk}/change/")

    live = page.locator("[data-live-call]")
    expect(live).to_have_attribute("data-connected", "true")
    transcript = live.locator("[data-transcript]")
    # The greeting: from the snapshot, or from the bridge's turns not yet written.
    expect(transcript.locator('[data-speaker="agent"]').first).to_contain_text(GREETING)

    carrier.speak()
    # The caller's turn appears as it is said, with no reload.
    expect(transcript.locator('[data-speaker="caller"]')).to_contain_text(CALLER_SAYS)
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "live_monitor_during_the_call.png"), full_page=True)

    page.get_by_role("button", name="End call").click()
    # Back on the call's page, now final: the conversation as written, the analysis section.
    expect(page.locator(".call-record")).to_be_visible()
    expect(page.locator(".call-summary")).to_contain_text("Completed")
    expect(page.locator(".call-record .live-turn--caller")).to_contain_text(CALLER_SAYS)
    expect(page.locator("[data-live-call]")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "live_monitor_after_the_call.png"), full_page=True)
    carrier.join()
    with tenant_context(alpha):
        ended = Call.objects.get(pk=call.pk)
    assert (ended.status, ended.end_reason) == ("completed", "agent_hangup")
    assert fake_twilio_rest_hung_up(carrier)


def fake_twilio_rest_hung_up(carrier: Carrier) -> bool:
    return carrier._hung_up()


def test_a_viewer_watches_a_live_call_with_no_button(page, alpha, live_call):
    call, carrier = live_call
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    log_in(page, make_admin(alpha, role=Role.VIEWER), host="alpha.localhost")
    page.goto(f"/admin/calls/call/{call.pk}/change/")

    live = page.locator("[data-live-call]")
    expect(live).to_have_attribute("data-connected", "true")
    expect(live.locator('[data-speaker="agent"]').first).to_contain_text(GREETING)
    expect(page.get_by_role("button", name="End call")).to_have_count(0)
    expect(page.get_by_role("button", name="Transfer")).to_have_count(0)

    # Narrow screens: the transcript stays readable.
    page.screenshot(path=str(SCREENSHOTS / "live_monitor_viewer.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 800})
    expect(live.locator("[data-transcript]")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390 + 1
    page.screenshot(path=str(SCREENSHOTS / "live_monitor_viewer_390.png"), full_page=True)
