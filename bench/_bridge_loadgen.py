"""Load generator for bench/bench_bridge.py: N simulated Twilio media streams, one process.

Reads a JSON spec on stdin, prints one JSON result on stdout. Each call sends a ``media``
frame every 20 ms (160 bytes of mu-law, base64) in real time, like Twilio; the server bridges
it to the echo fake, which returns it as model audio, and the bridge sends it back as Twilio
``media``. The first 3 bytes of every frame carry its sequence number, so each echo is matched
to its frame exactly (the payload strings are shared by all calls and looked up in one dict).
Marks are echoed once the audio queued before them has "played" (8 bytes per ms), as Twilio
does.

Kept cheap on purpose, because it shares the two cores with the server and the fake: one
ticker task paces every call (calls are spread over 20 one-millisecond phases, so their
frames are not sent in bursts), frames are built with one f-string, marks are echoed from the
same ticker, and the loop is uvloop.

Measured over a steady window after the warm-up: per-frame latency (carrier send → echoed
frame received), frames sent and echoed, and the CPU time of the server, the fake and this
process (from /proc/<pid>/task/*/schedstat, nanoseconds, all threads).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import sys
import time
from collections import deque

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

FRAME_MS = 20
FRAME_BYTES = 160
PHASES = 20  # one-millisecond phase buckets per 20 ms frame period
SEQ_BYTES = 3

perf = time.perf_counter


def cpu_ns(pid: int) -> int:
    """CPU time (user + system) of every thread of ``pid`` so far, in nanoseconds."""
    total = 0
    base = f"/proc/{pid}/task"
    try:
        tids = os.listdir(base)
    except FileNotFoundError:
        return 0
    for tid in tids:
        try:
            with open(f"{base}/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
    return total


def user_system_ticks(pid: int) -> tuple[int, int]:
    """User and system CPU of ``pid`` (all threads, clock ticks) from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0, 0
    return int(fields[11]), int(fields[12])


def machine_busy_ns() -> int:
    """CPU time all cores spent not idle, machine-wide (everything, not only our processes)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) * 10**9 // os.sysconf("SC_CLK_TCK")


def build_payloads(count: int) -> tuple[list[str], dict[str, int]]:
    """Frame ``i``'s base64 payload (its number in the first 3 bytes, then mu-law noise that
    sounds like nothing in particular) and the reverse map."""
    rng = random.Random(7)
    noise = bytes(rng.randrange(0x10, 0xF0) for _ in range(FRAME_BYTES * 50))
    payloads = []
    for i in range(count):
        offset = (i % 49) * FRAME_BYTES
        frame = i.to_bytes(SEQ_BYTES, "big") + noise[offset : offset + FRAME_BYTES - SEQ_BYTES]
        payloads.append(base64.b64encode(frame).decode("ascii"))
    return payloads, {p: i for i, p in enumerate(payloads)}


class Caller:
    """One Twilio media stream."""

    __slots__ = (
        "index",
        "url",
        "ws",
        "sid",
        "head",
        "mid",
        "seq",
        "sent_at",
        "echo_at",
        "play_end",
        "marks",
        "marks_echoed",
        "clears",
        "duplicates",
        "unknown",
        "closed",
        "first_echo",
        "reader",
        "errors",
    )

    def __init__(self, index: int, url: str, frames: int) -> None:
        self.index = index
        self.url = url
        self.ws: ClientConnection | None = None
        self.sid = f"MZ{index:032x}"
        self.head = '{"event":"media","sequenceNumber":"'
        self.mid = '","streamSid":"' + self.sid + '","media":{"track":"inbound","chunk":"'
        self.seq = 2  # connected and start came first
        self.sent_at = [0.0] * frames
        self.echo_at = [0.0] * frames
        self.play_end = 0.0
        self.marks: deque[tuple[float, str]] = deque()
        self.marks_echoed = 0
        self.clears = 0
        self.duplicates = 0
        self.unknown = 0
        self.closed = False
        self.first_echo = 0.0
        self.reader: asyncio.Task | None = None
        self.errors: list[str] = []

    async def open(self) -> None:
        self.ws = await connect(
            self.url, compression=None, ping_interval=None, max_size=2**20, open_timeout=30
        )
        await self.ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
        start = {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": self.sid,
            "start": {
                "streamSid": self.sid,
                "accountSid": "AC" + "0" * 32,
                "callSid": f"CA{self.index:032x}",
                "tracks": ["inbound"],
                "customParameters": {},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
        await self.ws.send(json.dumps(start))

    async def send_frame(self, k: int, payload: str) -> None:
        self.seq += 1
        ts = k * FRAME_MS
        message = (
            f'{self.head}{self.seq}{self.mid}{k + 1}","timestamp":"{ts}","payload":"{payload}"}}}}'
        )
        self.sent_at[k] = perf()
        await self.ws.send(message)

    async def echo_due_marks(self, now: float) -> None:
        marks = self.marks
        while marks and marks[0][0] <= now:
            _, name = marks.popleft()
            self.seq += 1
            await self.ws.send(
                f'{{"event":"mark","sequenceNumber":"{self.seq}","streamSid":"{self.sid}",'
                f'"mark":{{"name":"{name}"}}}}'
            )
            self.marks_echoed += 1

    async def read(self, seq_of: dict[str, int]) -> None:
        recv = self.ws.recv
        loads = orjson.loads
        echo_at = self.echo_at
        try:
            while True:
                raw = await recv()
                now = perf()
                message = loads(raw)
                event = message["event"]
                if event == "media":
                    payload = message["media"]["payload"]
                    k = seq_of.get(payload)
                    if k is None:
                        self.unknown += 1
                        continue
                    if echo_at[k]:
                        self.duplicates += 1
                    else:
                        echo_at[k] = now
                    if not self.first_echo:
                        self.first_echo = now
                    # Twilio plays what it is sent in real time: 8 bytes per ms.
                    play_ms = len(payload) * 3 / 4 / 8
                    self.play_end = max(now, self.play_end) + play_ms / 1000
                elif event == "mark":
                    self.marks.append((self.play_end, message["mark"]["name"]))
                elif event == "clear":
                    self.clears += 1
                    self.play_end = now
                    for i, (_, name) in enumerate(self.marks):
                        self.marks[i] = (now, name)
                else:
                    self.errors.append(f"unexpected event {event!r}")
        except ConnectionClosed:
            pass
        finally:
            self.closed = True

    async def hang_up(self) -> None:
        if self.ws is None:
            return
        try:
            self.seq += 1
            await self.ws.send(
                f'{{"event":"stop","sequenceNumber":"{self.seq}","streamSid":"{self.sid}",'
                f'"stop":{{"accountSid":"AC{"0" * 32}","callSid":"CA{self.index:032x}"}}}}'
            )
            await asyncio.wait_for(self.ws.close(), 10)
        except (ConnectionClosed, TimeoutError, OSError):
            pass
        if self.reader is not None:
            self.reader.cancel()


async def ticker(
    callers: list[Caller],
    payloads: list[str],
    t0: float,
    send_until: float,
    run_until: float,
    lateness: list[float],
) -> None:
    """Every millisecond, the calls of that millisecond's phase send their next frame (until
    ``send_until``) and echo their due marks (until ``run_until``)."""
    buckets: list[list[Caller]] = [[] for _ in range(PHASES)]
    for i, caller in enumerate(callers):
        buckets[i % PHASES].append(caller)
    tick = 0
    worst = 0.0
    sleep = asyncio.sleep
    while True:
        due = t0 + tick / 1000
        now = perf()
        if due > now:
            await sleep(due - now)
            now = perf()
        elif now - due > worst:
            worst = now - due
        if due >= run_until:
            break
        k, phase = divmod(tick, PHASES)
        sending = due < send_until
        payload = payloads[k] if sending else ""
        for caller in buckets[phase]:
            if caller.closed:
                continue
            try:
                if sending:
                    await caller.send_frame(k, payload)
                if caller.marks:
                    await caller.echo_due_marks(now)
            except ConnectionClosed:
                caller.closed = True
        tick += 1
    lateness.append(worst)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


async def run(spec: dict) -> dict:
    urls: list[str] = spec["urls"]
    warmup, window, drain = spec["warmup_s"], spec["window_s"], spec["drain_s"]
    pids = {name: int(pid) for name, pid in spec["pids"].items()}
    pids["loadgen"] = os.getpid()
    frames = int((warmup + window + 1) * 1000 / FRAME_MS) + 2
    payloads, seq_of = build_payloads(frames)
    callers = [Caller(i, url, frames) for i, url in enumerate(urls)]

    # Connect, a few at a time (a carrier's calls do not all arrive in the same millisecond).
    connect_started = perf()
    gate = asyncio.Semaphore(spec.get("connect_concurrency", 20))

    async def open_one(caller: Caller) -> None:
        async with gate:
            await caller.open()
            caller.reader = asyncio.create_task(caller.read(seq_of))

    await asyncio.gather(*(open_one(c) for c in callers))
    connect_s = perf() - connect_started

    t0 = perf() + 0.05
    window_start = t0 + warmup
    window_end = window_start + window
    lateness: list[float] = []
    ticking = asyncio.create_task(
        ticker(callers, payloads, t0, window_end, window_end + drain, lateness)
    )

    await asyncio.sleep(max(0.0, window_start - perf()))
    cpu_before = {name: cpu_ns(pid) for name, pid in pids.items()}
    busy_before = machine_busy_ns()
    ticks_before = {name: user_system_ticks(pid) for name, pid in pids.items()}
    wall_before = perf()
    await asyncio.sleep(max(0.0, window_end - perf()))
    cpu_after = {name: cpu_ns(pid) for name, pid in pids.items()}
    busy_after = machine_busy_ns()
    ticks_after = {name: user_system_ticks(pid) for name, pid in pids.items()}
    wall = perf() - wall_before
    await ticking

    # Frames sent inside the window, their echoes (whenever they came, up to the drain).
    first_k = int((window_start - t0) * 1000 / FRAME_MS) + 1
    last_k = int((window_end - t0) * 1000 / FRAME_MS) - 1
    latencies: list[float] = []
    sent = echoed = 0
    late_starters = 0
    for caller in callers:
        if not caller.first_echo or caller.first_echo > window_start:
            late_starters += 1
        sent_at, echo_at = caller.sent_at, caller.echo_at
        for k in range(first_k, last_k + 1):
            s = sent_at[k]
            if not s:
                continue
            sent += 1
            e = echo_at[k]
            if e:
                echoed += 1
                latencies.append((e - s) * 1000)
    latencies.sort()
    # Calls the server closed before we hung up (none should be).
    closed_by_server = sum(1 for c in callers if c.closed)

    # Latency over time (by send time, 0.5 s buckets over warm-up and window), to tell a
    # growing backlog from a transient.
    timeline = []
    bucket_frames = 25
    for start_k in range(0, last_k + 1, bucket_frames):
        values = sorted(
            (c.echo_at[k] - c.sent_at[k]) * 1000
            for c in callers
            for k in range(start_k, min(start_k + bucket_frames, last_k + 1))
            if c.sent_at[k] and c.echo_at[k]
        )
        timeline.append(
            (
                round(start_k * FRAME_MS / 1000, 1),
                round(percentile(values, 50), 1),
                round(values[-1], 1) if values else None,
            )
        )

    await asyncio.gather(*(c.hang_up() for c in callers))

    calls = len(callers)
    cpu_ms = {name: (cpu_after[name] - cpu_before[name]) / 1e6 for name in pids}
    return {
        "calls": calls,
        "connect_s": round(connect_s, 3),
        "window_s": round(wall, 3),
        "frames_sent": sent,
        "frames_echoed": echoed,
        "frames_lost": sent - echoed,
        "p50_ms": round(percentile(latencies, 50), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "max_ms": round(latencies[-1], 3) if latencies else float("nan"),
        "cpu_ms": {name: round(value, 1) for name, value in cpu_ms.items()},
        # CPU per second of call audio: the window carried calls * wall seconds of audio.
        "cpu_ms_per_call_s": {
            name: round(value / (calls * wall), 3) for name, value in cpu_ms.items()
        },
        "cpu_cores": {name: round(value / 1000 / wall, 3) for name, value in cpu_ms.items()},
        # Everything else on the machine (PostgreSQL, Redis, the kernel's network work,
        # anything else running): if large, the figures are disturbed.
        # Share of each process's CPU spent in the kernel (mostly loopback socket I/O).
        "system_share": {
            name: round(
                (ticks_after[name][1] - ticks_before[name][1])
                / max(1, sum(ticks_after[name]) - sum(ticks_before[name])),
                2,
            )
            for name in pids
        },
        "machine_busy_cores": round((busy_after - busy_before) / 1e9 / wall, 3),
        "other_cores": round(
            (busy_after - busy_before) / 1e9 / wall - sum(cpu_ms.values()) / 1000 / wall, 3
        ),
        "marks_echoed": sum(c.marks_echoed for c in callers),
        "clears": sum(c.clears for c in callers),
        "duplicates": sum(c.duplicates for c in callers),
        "unknown_media": sum(c.unknown for c in callers),
        "late_starters": late_starters,
        "closed_by_server": closed_by_server,
        "ticker_worst_lateness_ms": round(lateness[0] * 1000, 2) if lateness else None,
        "errors": [e for c in callers for e in c.errors][:5],
        "timeline": timeline if spec.get("timeline") else None,
    }


def main() -> None:
    spec = json.loads(sys.stdin.read())
    try:
        import uvloop

        result = uvloop.run(run(spec))
    except ImportError:
        result = asyncio.run(run(spec))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
