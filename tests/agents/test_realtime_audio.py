"""G.711 tables, streaming resamplers and WAV chunks of agents.realtime.audio (used by the provider sessions)."""

from __future__ import annotations

import base64
import io
import struct
import warnings
import wave

import numpy as np
import pytest

from agents.realtime.audio import (
    MulawTo16k,
    PcmToMulaw8k,
    b64_decoded_len,
    mulaw_to_pcm16,
    pcm16_to_mulaw,
    wav_to_pcm,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # removed in 3.13: the reference our tables must match bit for bit


def _tone(freq: float, rate: int, ms: int, amplitude: float = 0.5) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype("<i2").tobytes()


def _rms(pcm: bytes) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_mulaw_decode_table_matches_audioop_for_every_byte():
    every_byte = bytes(range(256))
    assert mulaw_to_pcm16(every_byte) == audioop.ulaw2lin(every_byte, 2)


def test_mulaw_encode_table_matches_audioop_for_every_sample():
    every_sample = np.arange(-32768, 32768, dtype="<i2").tobytes()
    assert pcm16_to_mulaw(every_sample) == audioop.lin2ulaw(every_sample, 2)


def test_mulaw_round_trip_is_stable():
    every_byte = bytes(range(256))
    # 0x7F and 0xFF are both zero; audioop maps zero to 0xFF, so compare after one round trip.
    once = pcm16_to_mulaw(mulaw_to_pcm16(every_byte))
    assert pcm16_to_mulaw(mulaw_to_pcm16(once)) == once
    assert pcm16_to_mulaw(b"\x00\x00") == b"\xff"


def test_b64_decoded_len_matches_decoding():
    for n in range(0, 40):
        encoded = base64.b64encode(bytes(n)).decode()
        assert b64_decoded_len(encoded) == n


def test_mulaw_to_16k_doubles_the_sample_count_and_keeps_the_tone():
    mulaw = pcm16_to_mulaw(_tone(440, 8000, 1000))
    up = MulawTo16k()
    out = b"".join(up.convert(frame) for frame in _chunks(mulaw, 160)) + up.flush()
    samples = np.frombuffer(out, dtype="<i2")
    assert len(samples) == 16000
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)  # 1 s of audio: bin = Hz


def test_pcm_to_mulaw_8k_from_24k_keeps_speech_band_and_rejects_aliases():
    def through(pcm: bytes) -> bytes:
        down = PcmToMulaw8k(24000)
        mulaw = b"".join(down.convert(c) for c in _chunks(pcm, 960)) + down.flush()
        return mulaw_to_pcm16(mulaw)

    passed = through(_tone(1000, 24000, 1000))
    aliased = through(_tone(6000, 24000, 1000))  # folds to 2 kHz without a filter
    assert len(passed) == 2 * 8000
    assert _rms(passed) == pytest.approx(_rms(_tone(1000, 8000, 1000)), rel=0.05)
    assert 20 * np.log10(max(_rms(aliased), 1e-9) / _rms(passed)) < -40


def test_pcm_to_mulaw_8k_reset_leaves_no_stale_audio_after_barge_in():
    down = PcmToMulaw8k(24000)
    for chunk in _chunks(_tone(1000, 24000, 200), 960):
        down.convert(chunk)
    down.reset()
    silence = b"".join(down.convert(bytes(960)) for _ in range(10)) + down.flush()
    assert set(silence) <= {0xFF, 0x7F, 0xFE, 0x7E}  # zero, give or take dither


def test_pcm_to_mulaw_8k_flush_then_reuse_returns_everything_each_time():
    down = PcmToMulaw8k(24000)
    pcm = _tone(300, 24000, 500)
    for _ in range(2):
        out = b"".join(down.convert(c) for c in _chunks(pcm, 480)) + down.flush()
        assert len(out) == 4000


def test_pcm_to_mulaw_8k_carries_odd_bytes_between_chunks():
    pcm = _tone(500, 8000, 100)
    down = PcmToMulaw8k(8000)
    split = b"".join(down.convert(c) for c in _chunks(pcm, 77))
    assert split == pcm16_to_mulaw(pcm)


def test_resampler_added_delay_stays_small():
    """What the filters hold back in steady state with 20 ms chunks (adds to time to first
    audio). Measured here: 24k→8k LQ 25 ms, 8k→16k QQ 0.2 ms."""
    down = PcmToMulaw8k(24000)
    out = b"".join(down.convert(c) for c in _chunks(_tone(300, 24000, 1000), 480))
    held_ms = (8000 - len(out)) / 8
    assert 0 < held_ms <= 30

    up = MulawTo16k()
    mulaw = pcm16_to_mulaw(_tone(300, 8000, 1000))
    out = b"".join(up.convert(c) for c in _chunks(mulaw, 160))
    assert (32000 - len(out)) / 32 <= 2


def _wav(pcm: bytes, *, rate: int, channels: int = 1, width: int = 2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def test_wav_to_pcm_returns_samples_and_rate():
    pcm = _tone(440, 48000, 50)
    assert wav_to_pcm(_wav(pcm, rate=48000)) == (pcm, 48000)


def test_wav_to_pcm_mixes_stereo_down_to_mono():
    left = np.full(100, 1000, dtype="<i2")
    right = np.full(100, 3000, dtype="<i2")
    stereo = np.column_stack([left, right]).astype("<i2").tobytes()
    pcm, rate = wav_to_pcm(_wav(stereo, rate=24000, channels=2))
    assert rate == 24000
    assert np.all(np.frombuffer(pcm, dtype="<i2") == 2000)


@pytest.mark.parametrize("placeholder", [0, 0xFFFFFFFF])
def test_wav_to_pcm_reads_streaming_wavs_with_a_placeholder_size(placeholder):
    pcm = _tone(440, 16000, 20)
    data = bytearray(_wav(pcm, rate=16000))
    struct.pack_into("<I", data, data.find(b"data") + 4, placeholder)
    assert wav_to_pcm(bytes(data)) == (pcm, 16000)


def test_wav_to_pcm_refuses_what_it_cannot_read():
    with pytest.raises(ValueError):
        wav_to_pcm(b"not a wav at all")
    with pytest.raises(ValueError):
        wav_to_pcm(_wav(bytes(100), rate=8000, width=1))
