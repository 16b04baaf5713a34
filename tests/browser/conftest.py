"""Browser tests: Debian's chromium (/usr/bin/chromium, installed by `make test` through
scripts/ensure_browser.sh), driven headless through Playwright's sync API with
``executable_path`` (no browser is ever downloaded), against our ASGI application served by
uvicorn in a subprocess on the test database (tests/servers.py), with committed data.

The browser reaches an organization on its own domain (``alpha.localhost:<port>``): chromium
maps every ``*.localhost`` name to 127.0.0.1, so the tenant is chosen by the Host header as in
production. Each test gets a fresh browser context (cookies, storage), a screenshot of its
last page under var/screenshots/, and fails if the page logged a console error or raised an
uncaught exception (``console.expect(...)`` names the errors a test provokes on purpose).

Playwright's sync API refuses to run inside a running asyncio loop: these tests and fixtures
are plain functions (pytest-asyncio runs no loop for them). Between its calls, though, the sync
API leaves its own dispatcher loop marked as the thread's running loop, which Django's
async-safety check mistakes for async code: while the browser runs (this package only, see
``chromium``) DJANGO_ALLOW_ASYNC_UNSAFE is set, and removed with it, so the rest of the suite
keeps the check.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client

from organizations.models import Organization, Role, User
from organizations.services import member_add
from tests.servers import ROOT, DaphneServer

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS = ROOT / "var" / "screenshots"
PASSWORD = "correct horse battery staple"
# Playwright's own waits (an element to appear, a text to change): generous for a loaded
# 2-core machine, far below the test timeout.
WAIT_MS = 15_000


@pytest.fixture(scope="package")
def browser_server(django_db_setup) -> Iterator[DaphneServer]:
    """uvicorn serving voiceagents.asgi:application (as ``make run`` does) on the test
    database. whitenoise serves the static files from STATIC_ROOT when DEBUG is off, as in
    production, so they are collected first (as ``make run`` does)."""
    from django.db import connection

    if not connection.settings_dict["NAME"].startswith("test_"):
        # pytest-django makes the test database only for a run with a ``db`` test in it.
        pytest.fail(
            "no test database: select test_alpha_is_served_on_the_domain_the_browser_asks_for "
            "too (or run the whole tests/browser package)",
            pytrace=False,
        )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        check=True,
    )
    server = DaphneServer(
        env={"CELERY_TASK_ALWAYS_EAGER": "true"}, server="uvicorn", name="browser"
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def chromium() -> Iterator:
    """Debian's chromium, headless. Missing, the tests fail (never skip): `make test`
    installs it."""
    if not Path(CHROMIUM).is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's chromium. Run `make test`, "
            "which installs it (scripts/ensure_browser.sh), or `apt-get install chromium`.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    # No coroutine of ours runs in Playwright's loop (see the module's docstring).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    connections.close_all()  # see _close_db_connections
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--host-resolver-rules=MAP *.localhost 127.0.0.1"],
            )
            yield browser
            browser.close()
    finally:
        connections.close_all()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def _close_db_connections(request) -> Iterator[None]:
    """Django's database connections are per context (asgiref's Local), and with the browser
    running a test's context is not the package's: close the test's own connections after it
    (autouse, so after committed_db's cleanup too), or one is left open and keeps the test
    database from being dropped at the end of the run. A ``django_db`` test's connection is
    pytest-django's, inside its transaction: left alone."""
    yield
    if request.node.get_closest_marker("django_db") is None:
        connections.close_all()


@dataclass
class Console:
    """What the page logged as errors (console.error, failed loads), raised uncaught, and the
    answers of 400 and above it got."""

    errors: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def expect(self, pattern: str) -> None:
        """An error the test provokes on purpose (e.g. a 400 answer the page shows)."""
        self.expected.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.expected)]


# Known gaps of today's product, allowed on every page until fixed (then remove the line).
KNOWN_GAPS: list[str] = []


@pytest.fixture
def console() -> Console:
    console = Console()
    for pattern in KNOWN_GAPS:
        console.expect(pattern)
    return console


@pytest.fixture
def alpha_url(browser_server) -> str:
    """alpha's admin origin: its own domain, on the live server's port."""
    return f"http://alpha.localhost:{browser_server.port}"


def console_watch(page, console: Console) -> None:
    """Note on ``console`` what goes wrong on ``page``: console errors, uncaught exceptions,
    answers of 400 and above and failed requests."""
    page.on(
        "console",
        lambda message: (
            console.errors.append(
                f"console.{message.type}: {message.text} at {message.location.get('url')}"
            )
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: console.errors.append(f"uncaught: {error} ({page.url})"))
    # The console's "Failed to load resource" does not say which: the answers do.
    page.on(
        "response",
        lambda response: (
            console.errors.append(f"HTTP {response.status}: {response.url}")
            if response.status >= 400
            else None
        ),
    )
    page.on(
        "requestfailed",
        lambda request: console.errors.append(f"request failed: {request.url} {request.failure}"),
    )


@pytest.fixture
def page(request, chromium, console, alpha_url) -> Iterator:
    """A fresh context and page (1280x800) on alpha's domain. After the test: a screenshot,
    and no console errors."""
    context = chromium.new_context(viewport=VIEWPORT, base_url=alpha_url)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    console_watch(page, console)
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
    unexpected = console.unexpected()
    assert not unexpected, "the browser logged errors:\n" + "\n".join(unexpected)


def make_admin(org: Organization, role: str = Role.ADMIN) -> User:
    """A committed user with ``role`` in ``org`` (through the services) and a password."""
    from tests.organizations.factories import UserFactory

    user = UserFactory(password=PASSWORD)
    member_add(organization=org, user=user, role=role)
    return user


def log_in(page, user: User, host: str) -> None:
    """Give the page's context a session of ``user`` (as the login form would), for ``host``."""
    client = Client(HTTP_HOST=host)
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": cookie.value,
                "domain": host,
                "path": "/",
                "httpOnly": True,
            }
        ]
    )


@pytest.fixture
def alpha(committed_db) -> Organization:
    return Organization.objects.get(slug="alpha")


@pytest.fixture
def admin_page(page, alpha):
    """``page``, logged in as an admin of alpha."""
    log_in(page, make_admin(alpha), host="alpha.localhost")
    return page
