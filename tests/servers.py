"""Real servers for end-to-end tests: daphne serving our ASGI app in a subprocess, pointed at
the test database and at loopback fakes of the providers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DaphneServer:
    """Our ASGI application in a subprocess: daphne by default, or uvicorn (``server=``), the
    two servers ``make run`` can use."""

    def __init__(
        self,
        *,
        env: dict[str, str],
        server: str = "daphne",
        extra_args: list[str] | None = None,
        name: str = "",
    ) -> None:
        """``extra_args`` go after the server's own (a later flag wins: ``--access-log``);
        ``name`` keeps the log file of a second server of the same kind apart."""
        self.server = server
        self.extra_args = list(extra_args or [])
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        db = connection.settings_dict
        user = db["USER"] or "postgres"
        password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "voiceagents.settings",
            # The pytest process's test database, not the development one.
            "DATABASE_URL": f"postgres://{user}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            # The test process's cache, so what a test invalidates, daphne sees.
            "CACHE_URL": settings.CACHES["default"]["LOCATION"],
            "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
            "CHANNELS_PREFIX": f"va-test-{os.getpid()}:ch",
            "PUBLIC_BASE_URL": self.base_url,
            "LOG_LEVEL": os.environ.get("DAPHNE_LOG_LEVEL", "WARNING"),
            "DB_POOL": "false",
            **env,
        }
        self.process: subprocess.Popen | None = None
        suffix = f"-{name}" if name else ""
        self.log_path = ROOT / "var" / f"{server}{suffix}-test-{os.getpid()}.log"

    def start(self) -> DaphneServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w")
        if self.server == "uvicorn":
            command = [
                "-m",
                "uvicorn",
                "voiceagents.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--loop",
                "uvloop",
                "--ws",
                "websockets-sansio",
                "--no-access-log",
            ]
        else:
            command = [
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "voiceagents.asgi:application",
            ]
        self.process = subprocess.Popen(
            [sys.executable, *command, *self.extra_args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # Generous: a loaded machine (CI with other suites, several servers starting at once)
        # can take tens of seconds to import the project; a healthy server answers at once.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"daphne did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text()[-chars:] if self.log_path.exists() else ""


class ThreadedServer:
    """Runs an asyncio fake (anything with ``async start()`` / ``async stop()``) on its own
    loop in a daemon thread, so a subprocess such as daphne can reach it for a whole session."""

    def __init__(self, fake) -> None:
        import asyncio
        import threading

        self.fake = fake
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(fake.start())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name=f"fake-{type(fake).__name__}", daemon=True)
        self.thread.start()
        if not started.wait(15):
            raise RuntimeError(f"{type(fake).__name__} did not start")

    def call(self, coro, timeout: float = 10.0):
        """Run a coroutine of the fake (drop(), go_away()...) on its loop."""
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
