"""Real Celery workers for the batch tests and the dispatch benchmark: ``celery worker`` in a
subprocess (its own process group, so SIGKILL takes the pool with it), pointed at the test
database and at the test run's own broker keys and queue.

As a module it is the worker's entry point (``python -m tests.calls.batch_worker``): the
project's Celery app, consuming the queue the environment names (``CELERY_QUEUE``), under the
broker key prefix of the run that started it (``TEST_CELERY_KEYPREFIX``), so runs never take
each other's messages. Redelivery after a killed worker is quick (``visibility_timeout``), as a restart
after a crash should be.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# A killed worker's unacknowledged messages go back to the queue after this long.
VISIBILITY_TIMEOUT_SECONDS = 3


def broker_options(keyprefix: str) -> dict[str, Any]:
    """The broker transport options of a test run (the worker's and its sender's)."""
    return {"global_keyprefix": keyprefix, "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS}


def celery_settings(*, broker_url: str, queue: str, keyprefix: str) -> dict[str, Any]:
    """Django settings for the process that sends to a test run's workers."""
    return {
        "CELERY_TASK_ALWAYS_EAGER": False,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "CELERY_BROKER_TRANSPORT_OPTIONS": broker_options(keyprefix),
    }


class CeleryWorker:
    """``CeleryWorker(env=...).start()``; ``kill()`` is SIGKILL to the whole worker (its pool
    children too), ``stop()`` a warm shutdown."""

    def __init__(self, *, env: dict[str, str], concurrency: int = 2, name: str = "w") -> None:
        self.env = {**os.environ, **env}
        self.concurrency = concurrency
        self.name = name
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = ROOT / "var" / f"celery-{name}-test-{os.getpid()}.log"
        self.ready_path = ROOT / "var" / f"celery-{name}-test-{os.getpid()}.ready"

    def start(self, *, ready_timeout: float = 60) -> CeleryWorker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.ready_path.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.calls.batch_worker", str(self.concurrency), self.name],
            cwd=ROOT,
            env={**self.env, "TEST_CELERY_READY_FILE": str(self.ready_path)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() reaches the pool
        )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited: {self.log_tail()}")
            if self.ready_path.exists():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"celery worker did not start: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL, no warning: what a crashed machine or the OOM killer does."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def pids(self) -> list[int]:
        """The worker's processes (the main one and its pool), for CPU accounting."""
        if self.process is None:
            return []
        group = os.getpgid(self.process.pid) if self.process.poll() is None else None
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if group is not None and int(fields[2]) == group:
                found.append(int(entry.name))
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU of the worker's live processes so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / ticks

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def _main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voiceagents.settings")
    concurrency, name = sys.argv[1], sys.argv[2]
    queue = os.environ["CELERY_QUEUE"]
    from celery.signals import worker_ready

    from voiceagents.celery import app

    @worker_ready.connect
    def _ready(**kwargs: Any) -> None:
        Path(os.environ["TEST_CELERY_READY_FILE"]).touch()

    app.conf.broker_transport_options = broker_options(os.environ["TEST_CELERY_KEYPREFIX"])
    app.worker_main(
        [
            "worker",
            f"--queues={queue}",
            f"--concurrency={concurrency}",
            f"--hostname={name}-{os.getpid()}@%h",
            "--pool=prefork",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


if __name__ == "__main__":
    _main()
