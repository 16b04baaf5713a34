"""Audio formats at the carrier edge: G.711 mu-law, PCM16, resampling and WAV chunks.

Carriers speak mu-law 8 kHz (8 bytes per ms, 160 bytes per 20 ms frame, silence ``0xFF``).
Providers that do not (Gemini: PCM16 16 kHz in, 24 kHz out; Hume: WAV chunks out) convert with
the helpers here. OpenAI speaks mu-law itself and needs none of this.

G.711 is done with numpy lookup tables, bit-exact with the stdlib ``audioop`` (deprecated,
removed in Python 3.13). Resampling uses one persistent ``soxr.ResampleStream`` per call and
direction, so the filter state carries across chunks (no clicks at chunk edges). Each converter
belongs to one call's task; none is thread-safe.
"""

from __future__ import annotations

import io
import wave

import numpy as np
import soxr

MULAW_RATE = 8000
MULAW_BYTES_PER_MS = 8
MULAW_SILENCE = 0xFF

# --- G.711 mu-law tables ----------------------------------------------------------------------
# The algorithm is the Sun g711.c one that audioop uses: 16-bit input is cut to 14 bits, biased
# by 33, and coded as sign / 3-bit segment / 4-bit mantissa, all bits inverted.

_BIAS = 0x84
_CLIP = 8159
_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)


def _build_decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + _BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _BIAS - t, t - _BIAS).astype("<i2")


def _build_encode_table() -> np.ndarray:
    # Indexed by the sample's bit pattern read as uint16, so encoding needs no offset step.
    pcm = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(pcm), _CLIP) + (_BIAS >> 2)
    seg = np.searchsorted(_SEG_END, mag)  # first segment whose end is >= mag
    uval = (np.minimum(seg, 7) << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0x0F)
    uval = np.where(seg >= 8, 0x7F, uval)
    return (uval ^ mask).astype(np.uint8)


_DECODE = _build_decode_table()
_ENCODE = _build_encode_table()


def mulaw_to_pcm16(mulaw: bytes) -> bytes:
    """mu-law bytes → PCM16 little-endian bytes (same rate, twice the length)."""
    return _DECODE[np.frombuffer(mulaw, dtype=np.uint8)].tobytes()


def pcm16_to_mulaw(pcm: bytes) -> bytes:
    """PCM16 little-endian bytes (even length) → mu-law bytes (same rate, half the length)."""
    mulaw: bytes = _ENCODE[np.frombuffer(pcm, dtype="<u2")].tobytes()
    return mulaw


def mulaw_ms(nbytes: int) -> int:
    """Duration in whole ms of ``nbytes`` of mu-law 8 kHz."""
    return nbytes // MULAW_BYTES_PER_MS


def b64_decoded_len(payload_b64: str) -> int:
    """Byte length of a base64 string's payload, without decoding it."""
    n = len(payload_b64) * 3 // 4
    if payload_b64.endswith("=="):
        return n - 2
    if payload_b64.endswith("="):
        return n - 1
    return n


# --- streaming converters ---------------------------------------------------------------------


class MulawTo16k:
    """Caller audio for providers that want PCM16 16 kHz: mu-law 8 kHz → PCM16 16 kHz bytes.

    Upsampling does not alias, so soxr's cheapest quality ("QQ", cubic, ~0.2 ms held back) is
    enough; better qualities only add delay (LQ holds back ~60 ms at this ratio).
    """

    def __init__(self, *, out_rate: int = 16000, quality: str = "QQ") -> None:
        self.out_rate = out_rate
        self._stream = soxr.ResampleStream(MULAW_RATE, out_rate, 1, dtype="int16", quality=quality)

    def convert(self, mulaw: bytes) -> bytes:
        pcm = _DECODE[np.frombuffer(mulaw, dtype=np.uint8)]
        resampled: bytes = self._stream.resample_chunk(pcm).tobytes()
        return resampled

    def flush(self) -> bytes:
        """Return what the filter still holds (end of the stream) and start a fresh stream."""
        tail: bytes = self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True).tobytes()
        self._stream.clear()
        return tail

    def reset(self) -> None:
        """Drop buffered audio and filter state (a new, unrelated stream follows)."""
        self._stream.clear()


class PcmToMulaw8k:
    """Agent audio for carriers: PCM16 at ``in_rate`` → mu-law 8 kHz bytes.

    Downsampling needs an anti-alias filter: model voices have energy above 4 kHz that would
    fold back as hiss. soxr "LQ" rejects a 6 kHz tone by ~87 dB when going 24k → 8k and
    holds back ~25 ms of output in steady state (its first output comes once ~41 ms of input
    arrived); "QQ" has no delay but no anti-alias filter either.

    Call :meth:`flush` at the end of each answer (so its last ~25 ms are not stuck in the
    filter) and :meth:`reset` after a barge-in ``clear`` (so no stale audio leaks into the
    next answer). Odd trailing bytes of a chunk are kept for the next one.
    """

    def __init__(self, in_rate: int, *, quality: str = "LQ") -> None:
        self.in_rate = in_rate
        self.quality = quality
        self._carry = b""
        self._stream = (
            soxr.ResampleStream(in_rate, MULAW_RATE, 1, dtype="int16", quality=quality)
            if in_rate != MULAW_RATE
            else None
        )

    def convert(self, pcm: bytes) -> bytes:
        if self._carry:
            pcm = self._carry + pcm
            self._carry = b""
        if len(pcm) & 1:
            self._carry = pcm[-1:]
            pcm = pcm[:-1]
        samples = np.frombuffer(pcm, dtype="<i2")
        if self._stream is not None:
            samples = self._stream.resample_chunk(samples)
        mulaw: bytes = _ENCODE[samples.view("<u2")].tobytes()
        return mulaw

    def flush(self) -> bytes:
        """Return the audio the filter still holds, encoded; the converter is then reusable."""
        self._carry = b""
        if self._stream is None:
            return b""
        tail = self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        self._stream.clear()
        mulaw: bytes = _ENCODE[tail.view("<u2")].tobytes()
        return mulaw

    def reset(self) -> None:
        """Drop buffered audio and filter state (after a barge-in)."""
        self._carry = b""
        if self._stream is not None:
            self._stream.clear()


# --- WAV chunks -------------------------------------------------------------------------------


def wav_to_pcm(data: bytes) -> tuple[bytes, int]:
    """One WAV file (a Hume ``audio_output`` chunk) → (PCM16 LE mono bytes, sample rate).

    Multi-channel audio is mixed down to mono. Streaming WAVs often carry a placeholder data
    size (0 or 0xFFFFFFFF); then everything after the ``data`` chunk header is taken.
    Raises ``ValueError`` for anything that is not 16-bit PCM WAV.
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a PCM WAV chunk: {exc}") from exc
    if width != 2:
        raise ValueError(f"unsupported WAV sample width {width * 8} bits (want 16)")
    if not frames:
        start = data.find(b"data", 12)
        if start >= 0:
            frames = data[start + 8 :]
            frames = frames[: len(frames) - len(frames) % (2 * channels)]
    if channels > 1:
        pcm = np.frombuffer(frames, dtype="<i2").reshape(-1, channels)
        frames = pcm.mean(axis=1).astype("<i2").tobytes()
    return frames, rate
