""" "Talk to this agent" in a real browser: chromium's fake microphone (a WAV file this test
makes, looped) is streamed from the agent's admin page through the media consumer and bridge
to the fake realtime model; its answers are played and the transcript appears beside the
buttons; hanging up ends the call as a completed web call.

This module launches its own chromium, with the fake media flags (only here), and its own
server pointed at the fake OpenAI Realtime model."""

from __future__ import annotations

import json
import re
import wave
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from django.contrib.staticfiles import finders
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from agents.services import agent_create
from calls.models import Call, TranscriptTurn
from tests.browser.conftest import (
    CHROMIUM,
    SCREENSHOTS,
    VIEWPORT,
    WAIT_MS,
    console_watch,
    log_in,
    make_admin,
)
from tests.calls.bridge_support import fake_openai, script  # noqa: F401  (fixtures)
from tests.servers import DaphneServer

GREETING = "Hi, this is the front desk."
CALLER_SAYS = "I have a question about my order."
ANSWER = "Sure, I can help with that."
WAV_RATE = 48_000


def speech_wav(path: Path) -> Path:
    """What the fake microphone says, looped by chromium: 2.5 s of silence (the agent's
    greeting is heard out), then a caller turn the fake model's energy VAD hears (0.8 s of
    voiced, syllable-shaped sound), then 1.7 s of silence that ends the turn."""
    rng = np.random.default_rng(7)
    t = np.arange(int(0.8 * WAV_RATE)) / WAV_RATE
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 8))
    voice = voice / np.max(np.abs(voice)) + rng.normal(0, 0.1, t.size)
    envelope = 0.6 + 0.4 * np.abs(np.sin(2 * np.pi * 2.0 * t))
    speech = 0.6 * voice * envelope / np.max(np.abs(voice * envelope))
    silence = np.zeros
    samples = np.concatenate([silence(int(2.5 * WAV_RATE)), speech, silence(int(1.7 * WAV_RATE))])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(WAV_RATE)
        out.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def talk_server(browser_server, fake_openai) -> Iterator[DaphneServer]:  # noqa: F811
    """Our application (static files already collected by ``browser_server``) with the AI
    provider's key and URL pointed at the fake model."""
    server = DaphneServer(
        env={
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "OPENAI_API_KEY": fake_openai.api_key,
            "OPENAI_BASE_URL": fake_openai.base_url,
        },
        server="uvicorn",
        name="talk",
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def media_browser(chromium, tmp_path_factory):
    """A second chromium whose microphone is the WAV file (and which grants it unasked)."""
    wav = speech_wav(tmp_path_factory.mktemp("talk") / "caller.wav")
    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--host-resolver-rules=MAP *.localhost 127.0.0.1",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
        ],
    )
    yield browser
    browser.close()


@pytest.fixture
def talk_page(request, media_browser, talk_server, console) -> Iterator:
    """A page of the media browser on alpha's domain, with the checks of tests/browser's
    ``page`` (a screenshot after the test, no console errors)."""
    context = media_browser.new_context(
        viewport=VIEWPORT, base_url=f"http://alpha.localhost:{talk_server.port}"
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    console_watch(page, console)
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()
    unexpected = console.unexpected()
    assert not unexpected, "the browser logged errors:\n" + "\n".join(unexpected)


def front_desk(org):
    with tenant_context(org):
        return agent_create(
            name="Front desk", system_prompt="You answer questions.", first_message=GREETING
        )


pytestmark = pytest.mark.browser


# Its setup starts a server and a browser of its own (a minute on a loaded machine).
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("committed_db")
def test_talk_to_this_agent_streams_the_microphone_and_shows_the_transcript(
    talk_page,
    alpha,
    fake_openai,  # noqa: F811
    script,  # noqa: F811
):
    page = talk_page
    agent = front_desk(alpha)
    log_in(page, make_admin(alpha), host="alpha.localhost")
    page.goto(f"/admin/agents/agent/{agent.pk}/change/")
    panel = page.locator("[data-talk]")
    status = panel.locator("[data-talk-status]")
    expect(status).to_have_text("Not connected.")

    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))

    panel.get_by_role("button", name="Talk to this agent").click()

    expect(status).to_have_text("Connected: speak to the agent.", timeout=WAIT_MS)
    turns = panel.locator("[data-talk-transcript] li")
    # The agent's greeting, then what the fake model heard from the WAV, then its answer.
    expect(turns.first).to_have_text(f"Agent: {GREETING}", timeout=WAIT_MS)
    expect(turns.filter(has_text=CALLER_SAYS).first).to_be_visible(timeout=WAIT_MS)
    expect(turns.filter(has_text=ANSWER).first).to_be_visible(timeout=WAIT_MS)
    expect(turns.first).to_have_attribute("data-speaker", "agent")
    expect(turns.filter(has_text=CALLER_SAYS).first).to_have_attribute("data-speaker", "caller")
    expect(panel.locator("[data-talk-call-link]")).to_be_visible()

    panel.get_by_role("button", name="Hang up").click()

    expect(status).to_have_text(re.compile(r"^Call ended: completed, \d+ s\.$"), timeout=WAIT_MS)
    expect(panel.get_by_role("button", name="Talk to this agent")).to_be_enabled()
    with tenant_context(alpha):
        call = Call.objects.get(agent=agent)
        said = list(TranscriptTurn.objects.filter(call=call).values_list("speaker", "text"))
    assert (call.direction, call.provider, call.status, call.end_reason) == (
        "web",
        "web",
        "completed",
        "caller_hangup",
    )
    assert call.duration_seconds is not None and call.provider_call_id == ""
    # The microphone went over the web call's media stream, the turns came from the call's
    # live view (the operator socket the call's page uses).
    paths = [urlsplit(url).path for url in sockets]
    assert paths[0].startswith("/ws/web/media/"), paths
    assert f"/ws/calls/{call.pk}/live/" in paths, paths
    assert ("agent", GREETING) in said and ("caller", CALLER_SAYS) in said
    # The caller's audio reached the model as 20 ms mu-law frames (160 bytes each).
    heard = fake_openai.current
    assert len(heard.raw_appends) > 50 and len(heard.audio_in) == 160 * len(heard.raw_appends)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "talk_to_this_agent_1280.png"))
    # At a phone's width the transcript sits under the buttons, still usable.
    page.set_viewport_size({"width": 390, "height": 800})
    box = panel.locator(".talk-transcript").bounding_box()
    assert box is not None and box["width"] <= 390


@pytest.mark.usefixtures("committed_db")
def test_a_viewer_sees_no_talk_button(page, alpha):
    agent = front_desk(alpha)
    log_in(page, make_admin(alpha, role="viewer"), host="alpha.localhost")

    page.goto(f"/admin/agents/agent/{agent.pk}/change/")

    expect(page.locator("h1, #content h2").first).to_be_visible()
    expect(page.locator("[data-talk]")).to_have_count(0)
    expect(page.get_by_role("button", name="Talk to this agent")).to_have_count(0)


# pytest-django creates the test database only when a collected test uses ``db``.
@pytest.mark.django_db
def test_the_talk_scripts_are_served_from_our_static_files():
    assert finders.find("agents/talk.js") and finders.find("agents/talk-worklet.js")
    assert finders.find("agents/talk.css")


@pytest.mark.usefixtures("committed_db")
def test_the_agent_editor_lists_the_chosen_providers_models_and_voices(admin_page):
    page = admin_page
    page.goto("/admin/agents/agent/add/")
    provider = page.locator("select[name=ai_provider]")
    model = page.locator("select[name=model]")

    provider.select_option("openai")
    expect(model.locator('optgroup[label="OpenAI Realtime"]')).not_to_have_attribute("hidden", "")
    expect(model.locator('optgroup[label="Gemini Live"]')).to_have_attribute("hidden", "")
    model.select_option("gpt-realtime-mini")

    provider.select_option("gemini")
    expect(model.locator('optgroup[label="Gemini Live"]')).not_to_have_attribute("hidden", "")
    expect(model.locator('optgroup[label="OpenAI Realtime"]')).to_have_attribute("hidden", "")
    # Another provider's model is not kept: back to the provider's default.
    assert model.evaluate("el => el.value") == ""
    voices = page.locator("select[name=voice] optgroup:not([hidden]) option")
    assert "Puck" in voices.all_inner_texts() and "marin" not in voices.all_inner_texts()
    # The chosen provider's missing key (the server's own settings decide which) is said at once.
    warnings = json.loads(provider.get_attribute("data-key-warnings") or "{}")
    note = page.locator("#agent-provider-key-warning")
    for name in ("gemini", "openai"):
        provider.select_option(name)
        if name in warnings:
            expect(note).to_have_text(warnings[name])
        else:
            expect(note).to_be_hidden()
