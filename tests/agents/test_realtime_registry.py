"""The provider registry: one place that builds sessions, and the catalog agents are checked
against."""

from __future__ import annotations

import pytest

from agents.realtime.base import RealtimeSession, SessionConfig
from agents.realtime.gemini import GeminiLiveSession
from agents.realtime.hume import HumeEVISession
from agents.realtime.registry import PROVIDERS, session_for


@pytest.mark.parametrize(
    ("provider", "module", "class_name"),
    [
        ("openai", "agents.realtime.openai", "OpenAIRealtimeSession"),
        ("gemini", "agents.realtime.gemini", "GeminiLiveSession"),
        ("hume", "agents.realtime.hume", "HumeEVISession"),
    ],
)
def test_session_for_builds_the_provider_session(provider, module, class_name):
    config = SessionConfig(model=PROVIDERS[provider].default_model, api_key="k")

    session = session_for(provider, config)

    assert type(session).__module__ == module and type(session).__name__ == class_name
    assert isinstance(session, RealtimeSession)
    assert session.provider == provider
    assert session.config is config


def test_an_unknown_provider_names_the_allowed_ones():
    with pytest.raises(
        ValueError, match=r"unknown realtime provider 'eleven'; allowed: gemini, hume, openai"
    ):
        session_for("eleven", SessionConfig(model="x"))


def test_catalog_defaults_are_among_the_allowed_choices():
    for name, info in PROVIDERS.items():
        assert info.default_model in info.models, name
        assert not info.voices or info.default_voice in info.voices, name


def test_catalog_lists_the_current_models_and_voices():
    assert {"gpt-realtime", "gpt-realtime-mini", "gpt-4o-realtime-preview"} <= set(
        PROVIDERS["openai"].models
    )
    assert set(PROVIDERS["openai"].voices) == {
        "alloy", "ash", "ballad", "cedar", "coral", "echo", "marin", "sage", "shimmer", "verse",
    }  # fmt: skip
    assert PROVIDERS["gemini"].default_model == "gemini-3.1-flash-live-preview"
    assert {"Puck", "Charon", "Kore", "Fenrir", "Aoede", "Leda", "Orus", "Zephyr"} <= set(
        PROVIDERS["gemini"].voices
    )
    assert PROVIDERS["hume"].models == ("evi-3",)
    assert PROVIDERS["hume"].uses_config_id
    assert not PROVIDERS["openai"].uses_config_id and not PROVIDERS["gemini"].uses_config_id


def test_registry_classes_are_the_provider_modules_own():
    assert session_for("gemini", SessionConfig(model="m")).__class__ is GeminiLiveSession
    assert session_for("hume", SessionConfig(model="m")).__class__ is HumeEVISession
