"""The Gemini path of the media bridge benchmark (bench/bench_bridge.py): what transcoding
costs per call in process, the resamplers' added delay, and for scale what google-genai itself
spends per message."""

from __future__ import annotations

import base64
import json as stdlib_json
import time

import numpy as np
from google.genai import _common, _live_converters, types

from agents.realtime.audio import MulawTo16k, PcmToMulaw8k, pcm16_to_mulaw
from tests.fakes.carrier_media import speech_like_mulaw

GEMINI_OUT_CHUNK_MS = 40  # Gemini's audio parts vary (tens of ms); 40 ms = 1,920 B at 24 kHz


def bench_transcoding(seconds: int = 60) -> dict:
    """The Gemini path's per-call conversion cost, in process, per second of call audio:
    caller frames of 20 ms (160 B mu-law, base64) → PCM16 16 kHz (``MulawTo16k``), and model
    audio as PCM16 24 kHz parts of 40 ms → mu-law 8 kHz (``PcmToMulaw8k(24000)``, soxr LQ),
    each including the base64 decode/encode the wire needs. Then the resamplers' added delay
    (audio held back in steady state, and how much input the first output needs), and for
    scale what google-genai itself spends per message (typed parsing, converters, json)."""
    caller = speech_like_mulaw(seconds * 1000, seed=3)
    caller_frames = [
        base64.b64encode(caller[i : i + 160]).decode() for i in range(0, len(caller), 160)
    ]
    t = np.arange(24 * 1000 * seconds) / 24000
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 12)) * 0.15
    agent_pcm = (voice * 32767).astype("<i2").tobytes()
    chunk = 48 * GEMINI_OUT_CHUNK_MS
    agent_parts = [
        base64.b64encode(agent_pcm[i : i + chunk]).decode() for i in range(0, len(agent_pcm), chunk)
    ]

    up = MulawTo16k()
    started = time.process_time()
    for frame in caller_frames:
        base64.b64encode(up.convert(base64.b64decode(frame))).decode()
    up_cpu = time.process_time() - started

    down = PcmToMulaw8k(24000)
    started = time.process_time()
    for part in agent_parts:
        base64.b64encode(down.convert(base64.b64decode(part))).decode()
    down_cpu = time.process_time() - started

    # The no-filter alternative, for scale: keep every third sample and encode.
    samples = np.frombuffer(agent_pcm, dtype="<i2")
    started = time.process_time()
    for i in range(0, len(samples), chunk // 2):
        pcm16_to_mulaw(samples[i : i + chunk // 2 : 3].tobytes())
    naive_cpu = time.process_time() - started

    def delay(converter, audio: bytes, step: int, in_per_ms: int, out_per_ms: int):
        """Feed ``audio`` in ``step``-byte pieces: input ms needed before the first output,
        then input minus output (ms) after each piece once flowing: mean and max."""
        fed = out = 0
        first = None
        held = []
        for i in range(0, len(audio), step):
            fed += step
            out += len(converter.convert(audio[i : i + step]))
            if out and first is None:
                first = fed / in_per_ms
            elif first is not None:
                held.append(fed / in_per_ms - out / out_per_ms)
        return first, sum(held) / len(held), max(held)

    # 5 ms pieces, to see the filter rather than the piece size.
    down_first, down_mean, down_max = delay(
        PcmToMulaw8k(24000), agent_pcm[: 48 * 2000], 48 * 5, 48, 8
    )
    up_first, up_mean, up_max = delay(MulawTo16k(), caller[: 8 * 2000], 8 * 5, 8, 32)

    sdk = gemini_sdk_cost(agent_parts[0], caller_pcm16k=MulawTo16k().convert(caller[:160]))
    return {
        "up_ms_per_call_s": round(up_cpu * 1000 / seconds, 3),
        "down_ms_per_call_s": round(down_cpu * 1000 / seconds, 3),
        "naive_down_ms_per_call_s": round(naive_cpu * 1000 / seconds, 3),
        "up_us_per_20ms_frame": round(up_cpu * 1e6 / len(caller_frames), 2),
        "down_us_per_40ms_part": round(down_cpu * 1e6 / len(agent_parts), 2),
        "down_first_output_after_input_ms": down_first,
        "down_held_back_ms_mean": round(down_mean, 1),
        "down_held_back_ms_max": round(down_max, 1),
        "up_first_output_after_input_ms": up_first,
        "up_held_back_ms_mean": round(up_mean, 2),
        "up_held_back_ms_max": round(up_max, 2),
        **sdk,
    }


def gemini_sdk_cost(part_b64: str, *, caller_pcm16k: bytes, rounds: int = 2000) -> dict:
    """What google-genai 3.x does per message on our audio path, without the socket: parse a
    ``serverContent`` audio message into a typed ``LiveServerMessage`` (as
    ``AsyncSession._receive`` does) and build one ``realtime_input`` audio message (as
    ``send_realtime_input`` does)."""
    raw = stdlib_json.dumps(
        {
            "serverContent": {
                "modelTurn": {
                    "parts": [
                        {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": part_b64}}
                    ]
                }
            }
        }
    ).encode()

    def receive() -> None:
        parameter_model = types.LiveServerMessage()
        response = stdlib_json.loads(raw)
        response_dict = _live_converters._LiveServerMessage_from_mldev(response)
        types.LiveServerMessage._from_response(
            response=response_dict, kwargs=parameter_model.model_dump()
        )

    def send() -> None:
        blob = types.Blob(data=caller_pcm16k, mime_type="audio/pcm;rate=16000")
        realtime_input = types.LiveSendRealtimeInputParameters.model_validate({"audio": blob})
        as_dict = _live_converters._LiveSendRealtimeInputParameters_to_mldev(
            from_object=realtime_input
        )
        as_dict = _common.encode_unserializable_types(_common.convert_to_dict(as_dict))
        stdlib_json.dumps({"realtime_input": as_dict})

    out = {}
    for name, fn, per_s in (("receive", receive, 1000 / GEMINI_OUT_CHUNK_MS), ("send", send, 50)):
        fn()
        started = time.process_time()
        for _ in range(rounds):
            fn()
        us = (time.process_time() - started) * 1e6 / rounds
        out[f"sdk_{name}_us_per_message"] = round(us, 1)
        out[f"sdk_{name}_ms_per_call_s"] = round(us * per_s / 1000, 3)
    return out
