"""The carriers' media-stream protocols: what the bridge reads from Twilio and Plivo frames and
the frames it writes back (see docs/protocols.md, "Twilio: media streams" and "Plivo: media
streams"). Pure: no sockets, no database."""

from __future__ import annotations

import json

import pytest

from calls.telephony.media import MediaProtocol, StreamStart
from calls.telephony.plivo import PlivoMediaProtocol
from calls.telephony.twilio import TwilioMediaProtocol

PAYLOAD = "//8A/w=="  # base64 of 4 bytes of mu-law

TWILIO_START = {
    "event": "start",
    "sequenceNumber": "1",
    "streamSid": "MZ0001",
    "start": {
        "streamSid": "MZ0001",
        "accountSid": "AC0001",
        "callSid": "CA0001",
        "tracks": ["inbound"],
        "customParameters": {"call_id": "42", "token": "abc"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    },
}

PLIVO_START = {
    "event": "start",
    "sequenceNumber": 1,
    "start": {
        "callId": "c0ffee00-0000-4000-8000-000000000001",
        "streamId": "5eed0000-0000-4000-8000-000000000002",
        "accountId": "MA0001",
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000},
    },
    "extra_headers": "callId=42;tenant=acme",
}


def _twilio_started(**start_overrides) -> tuple[TwilioMediaProtocol, StreamStart]:
    protocol = TwilioMediaProtocol()
    message = {**TWILIO_START, "start": {**TWILIO_START["start"], **start_overrides}}
    return protocol, protocol.parse_start(message)


def _plivo_started(message: dict | None = None) -> tuple[PlivoMediaProtocol, StreamStart]:
    protocol = PlivoMediaProtocol()
    return protocol, protocol.parse_start(message or PLIVO_START)


# --- the shared interface ---------------------------------------------------------------------


@pytest.mark.parametrize("protocol_class", [TwilioMediaProtocol, PlivoMediaProtocol])
def test_both_carriers_implement_the_media_protocol(protocol_class):
    protocol = protocol_class()

    assert isinstance(protocol, MediaProtocol)
    assert protocol.stream_id == ""  # known only once the stream started
    assert protocol.name in ("twilio", "plivo")


def test_the_base_protocol_has_no_carrier_dialect():
    protocol = MediaProtocol()

    for method, args in (
        (protocol.parse_start, ({},)),
        (protocol.mark_name, ({},)),
        (protocol.media, (PAYLOAD,)),
        (protocol.mark, ("m1",)),
        (protocol.clear, ()),
    ):
        with pytest.raises(NotImplementedError):
            method(*args)


def test_stream_start_defaults_to_mulaw_8k_without_parameters():
    start = StreamStart(stream_id="s", carrier_call_id="c")

    assert (start.encoding, start.sample_rate, start.parameters) == ("audio/x-mulaw", 8000, {})
    assert StreamStart("s", "c").parameters is not start.parameters


# --- Twilio: inbound --------------------------------------------------------------------------


def test_twilio_start_gives_the_stream_call_and_custom_parameters():
    protocol, start = _twilio_started()

    assert start == StreamStart(
        stream_id="MZ0001",
        carrier_call_id="CA0001",
        parameters={"call_id": "42", "token": "abc"},
        encoding="audio/x-mulaw",
        sample_rate=8000,
    )
    assert protocol.stream_id == "MZ0001"


def test_twilio_custom_parameters_become_strings():
    _, start = _twilio_started(customParameters={"attempt": 2, "vip": True})

    assert start.parameters == {"attempt": "2", "vip": "True"}


def test_twilio_start_without_custom_parameters_or_media_format_uses_defaults():
    protocol = TwilioMediaProtocol()
    start = protocol.parse_start(
        {
            "event": "start",
            "start": {"streamSid": "MZ9", "callSid": "CA9", "customParameters": None},
        }
    )

    assert start.parameters == {}
    assert (start.encoding, start.sample_rate) == ("audio/x-mulaw", 8000)


def test_twilio_start_reads_another_media_format():
    _, start = _twilio_started(mediaFormat={"encoding": "audio/x-l16", "sampleRate": "16000"})

    assert (start.encoding, start.sample_rate) == ("audio/x-l16", 16000)


def test_twilio_stream_sid_falls_back_to_the_top_level_one():
    protocol = TwilioMediaProtocol()
    start = protocol.parse_start(
        {"event": "start", "streamSid": "MZtop", "start": {"callSid": "CA1"}}
    )

    assert start.stream_id == protocol.stream_id == "MZtop"
    assert start.carrier_call_id == "CA1"


def test_twilio_media_payload_is_the_base64_string_as_sent():
    protocol, _ = _twilio_started()
    message = {
        "event": "media",
        "sequenceNumber": "3",
        "streamSid": "MZ0001",
        "media": {"track": "inbound", "chunk": "2", "timestamp": "20", "payload": PAYLOAD},
    }

    assert protocol.media_payload(message) == PAYLOAD


def test_twilio_mark_echo_names_the_mark():
    protocol, _ = _twilio_started()

    assert (
        protocol.mark_name({"event": "mark", "streamSid": "MZ0001", "mark": {"name": "r1-42"}})
        == "r1-42"
    )


def test_twilio_dtmf_digit():
    protocol, _ = _twilio_started()
    message = {
        "event": "dtmf",
        "streamSid": "MZ0001",
        "dtmf": {"track": "inbound_track", "digit": "5"},
    }

    assert protocol.dtmf_digit(message) == "5"


def test_twilio_event_names():
    protocol = TwilioMediaProtocol()

    assert protocol.name == "twilio"
    assert (protocol.START, protocol.MEDIA, protocol.DTMF, protocol.MARK, protocol.STOP) == (
        "start",
        "media",
        "dtmf",
        "mark",
        "stop",
    )
    assert set(protocol.IGNORED) == {"connected"}


# --- Twilio: outbound -------------------------------------------------------------------------


def test_twilio_media_frame_carries_the_stream_sid_and_payload():
    protocol, _ = _twilio_started()

    frame = json.loads(protocol.media(PAYLOAD))

    assert frame == {"event": "media", "streamSid": "MZ0001", "media": {"payload": PAYLOAD}}


def test_twilio_mark_frame():
    protocol, _ = _twilio_started()

    frame = json.loads(protocol.mark("r1-42"))

    assert frame == {"event": "mark", "streamSid": "MZ0001", "mark": {"name": "r1-42"}}


def test_twilio_clear_frame():
    protocol, _ = _twilio_started()

    assert json.loads(protocol.clear()) == {"event": "clear", "streamSid": "MZ0001"}


def test_twilio_frames_use_the_stream_sid_of_the_latest_start():
    protocol, _ = _twilio_started()
    protocol.parse_start({**TWILIO_START, "start": {**TWILIO_START["start"], "streamSid": "MZ2"}})

    for frame in (protocol.media(PAYLOAD), protocol.mark("m"), protocol.clear()):
        assert json.loads(frame)["streamSid"] == "MZ2"


def test_twilio_outbound_frames_are_text_json_with_only_the_three_allowed_events():
    # Anything else is Twilio error 31924.
    protocol, _ = _twilio_started()

    events = {
        json.loads(f)["event"]
        for f in (protocol.media(PAYLOAD), protocol.mark("m"), protocol.clear())
    }

    assert events == {"media", "mark", "clear"}


# --- Plivo: inbound ---------------------------------------------------------------------------


def test_plivo_start_gives_the_stream_call_and_extra_headers():
    protocol, start = _plivo_started()

    assert start == StreamStart(
        stream_id="5eed0000-0000-4000-8000-000000000002",
        carrier_call_id="c0ffee00-0000-4000-8000-000000000001",
        parameters={"callId": "42", "tenant": "acme"},
        encoding="audio/x-mulaw",
        sample_rate=8000,
    )
    assert protocol.stream_id == "5eed0000-0000-4000-8000-000000000002"


@pytest.mark.parametrize(
    "extra_headers",
    [
        "callId=42;tenant=acme",
        "callId=42,tenant=acme",  # the form our answer XML sends
        " callId = 42 ; tenant=acme ;",
        "callId=42;;tenant=acme;junk",  # empty parts and parts without "=" are skipped
    ],
)
def test_plivo_extra_headers_parse_in_either_separator_form(extra_headers):
    _, start = _plivo_started({**PLIVO_START, "extra_headers": extra_headers})

    assert start.parameters == {"callId": "42", "tenant": "acme"}


def test_plivo_extra_headers_may_sit_inside_start():
    message = {
        "event": "start",
        "start": {**PLIVO_START["start"], "extra_headers": "callId=7"},
    }

    _, start = _plivo_started(message)

    assert start.parameters == {"callId": "7"}


def test_plivo_start_without_extra_headers_or_media_format_uses_defaults():
    _, start = _plivo_started({"event": "start", "start": {"streamId": "s1", "callId": "c1"}})

    assert start.parameters == {}
    assert (start.encoding, start.sample_rate) == ("audio/x-mulaw", 8000)


def test_plivo_start_reads_the_l16_default_format():
    # Without contentType Plivo streams 16-bit PCM; the start message says so.
    message = {
        **PLIVO_START,
        "start": {
            **PLIVO_START["start"],
            "mediaFormat": {"encoding": "audio/x-l16", "sampleRate": 16000},
        },
    }

    _, start = _plivo_started(message)

    assert (start.encoding, start.sample_rate) == ("audio/x-l16", 16000)


def test_plivo_media_payload_is_the_base64_string_as_sent():
    protocol, _ = _plivo_started()
    message = {
        "event": "media",
        "sequenceNumber": 42,
        "streamId": protocol.stream_id,
        "media": {
            "track": "inbound",
            "timestamp": "1705312200000",
            "chunk": 41,
            "payload": PAYLOAD,
        },
        "extra_headers": "callId=42;tenant=acme",
    }

    assert protocol.media_payload(message) == PAYLOAD


def test_plivo_played_stream_names_the_checkpoint():
    protocol, _ = _plivo_started()

    assert (
        protocol.mark_name({"event": "playedStream", "streamId": "s", "name": "r1-42"}) == "r1-42"
    )


def test_plivo_dtmf_digit():
    protocol, _ = _plivo_started()

    assert protocol.dtmf_digit({"event": "dtmf", "streamId": "s", "dtmf": {"digit": "#"}}) == "#"


def test_a_numeric_dtmf_digit_becomes_a_string():
    assert PlivoMediaProtocol().dtmf_digit({"dtmf": {"digit": 7}}) == "7"
    assert TwilioMediaProtocol().dtmf_digit({"dtmf": {"digit": 7}}) == "7"


def test_plivo_event_names():
    protocol = PlivoMediaProtocol()

    assert protocol.name == "plivo"
    assert (protocol.START, protocol.MEDIA, protocol.DTMF, protocol.MARK, protocol.STOP) == (
        "start",
        "media",
        "dtmf",
        "playedStream",
        "stop",
    )
    assert set(protocol.IGNORED) == {"clearedAudio"}


# --- Plivo: outbound --------------------------------------------------------------------------


def test_plivo_media_frame_is_play_audio_in_mulaw_8k():
    protocol, _ = _plivo_started()

    frame = json.loads(protocol.media(PAYLOAD))

    assert frame == {
        "event": "playAudio",
        "media": {"contentType": "audio/x-mulaw", "sampleRate": 8000, "payload": PAYLOAD},
    }


def test_plivo_mark_frame_is_a_checkpoint_on_the_stream():
    protocol, _ = _plivo_started()

    frame = json.loads(protocol.mark("r1-42"))

    assert frame == {"event": "checkpoint", "streamId": protocol.stream_id, "name": "r1-42"}


def test_plivo_clear_frame_is_clear_audio_on_the_stream():
    protocol, _ = _plivo_started()

    assert json.loads(protocol.clear()) == {"event": "clearAudio", "streamId": protocol.stream_id}


def test_plivo_frames_use_the_stream_id_of_the_latest_start():
    protocol, _ = _plivo_started()
    protocol.parse_start({**PLIVO_START, "start": {**PLIVO_START["start"], "streamId": "s2"}})

    assert json.loads(protocol.mark("m"))["streamId"] == "s2"
    assert json.loads(protocol.clear())["streamId"] == "s2"


# --- both -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "start"),
    [(TwilioMediaProtocol(), TWILIO_START), (PlivoMediaProtocol(), PLIVO_START)],
    ids=["twilio", "plivo"],
)
def test_a_mark_echo_names_what_mark_sent(protocol, start):
    protocol.parse_start(start)
    sent = json.loads(protocol.mark("item7-1200"))
    if protocol.name == "twilio":
        echo = {"event": "mark", "streamSid": sent["streamSid"], "mark": sent["mark"]}
    else:
        echo = {"event": "playedStream", "streamId": sent["streamId"], "name": sent["name"]}

    assert echo["event"] == protocol.MARK
    assert protocol.mark_name(echo) == "item7-1200"


@pytest.mark.parametrize("protocol_class", [TwilioMediaProtocol, PlivoMediaProtocol])
def test_the_ignored_events_are_not_ones_the_bridge_handles(protocol_class):
    protocol = protocol_class()
    handled = {protocol.START, protocol.MEDIA, protocol.DTMF, protocol.MARK, protocol.STOP}

    assert protocol.IGNORED
    assert not protocol.IGNORED & handled


@pytest.mark.parametrize(
    ("protocol", "start"),
    [(TwilioMediaProtocol(), TWILIO_START), (PlivoMediaProtocol(), PLIVO_START)],
    ids=["twilio", "plivo"],
)
def test_a_large_payload_round_trips_through_the_media_frame(protocol, start):
    protocol.parse_start(start)
    payload = "A" * 1600 + "+/=="  # 100 ms of audio; "+" and "/" need no JSON escaping

    assert protocol.media_payload(json.loads(protocol.media(payload))) == payload
