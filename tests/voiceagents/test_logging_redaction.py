"""The redaction every log line goes through (voiceagents.logging): what it masks, what it
leaves alone, and that it is applied to stdlib records, structlog events and daphne's access
log alike."""

from __future__ import annotations

import io
import logging

import pytest
from django.conf import settings

from voiceagents.logging import REDACTED, RedactingFilter, redact, redact_event

STREAM_TOKEN = "eyJzIjoib3JnX2FscGhhIiwiYyI6NDJ9.Zm9vYmFyYmF6cXV4"
API_KEY = settings.API_KEY_PREFIX + "Q2hhbmdlTWVQbGVhc2UtdGhpcy1pcy1hLWtleQ"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f'127.0.0.1:5000 - "WebSocket /ws/twilio/media/{STREAM_TOKEN}" [accepted]', STREAM_TOKEN),
        ("WSCONNECT /ws/plivo/media/abc.def-ghi", "abc.def-ghi"),
        ("GET /api/v1/invitations/accept/?token=s3cr3t-invite-token HTTP/1.1", "s3cr3t-invite"),
        ("GET /x?page=2&key=abcdefgh12345&q=1", "abcdefgh12345"),
        ("login secret=hunter2hunter2 ok", "hunter2hunter2"),
        ("{'password': 'correct horse'}", "correct"),
        ('"api_key": "sk-live-1234567890"', "sk-live-1234567890"),
        ("Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        (f"request with {API_KEY} failed", API_KEY),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXRleHQ", "eyJhbGciOiJIUzI1NiJ9"),
        ("redis://:p4ssw0rd-redis@127.0.0.1:6379/0", "p4ssw0rd-redis"),
        (f"SECRET_KEY is {settings.SECRET_KEY}", settings.SECRET_KEY),
    ],
)
def test_secrets_are_masked(line, secret):
    masked = redact(line)

    assert secret not in masked
    assert REDACTED in masked
    assert redact(masked) == masked  # stable: a line may be redacted twice


@pytest.mark.parametrize(
    "line",
    [
        "call_ended call_id=42 status=completed end_reason=caller_hangup",
        "GET /api/v1/api-keys/5/ 200",
        "monkey=banana author=ada",
        "KeyError: 'agent_id'",
        "http://127.0.0.1:8000/healthz",
    ],
)
def test_ordinary_lines_are_left_alone(line):
    assert redact(line) == line


def test_structlog_fields_named_like_secrets_are_masked_whole():
    event = redact_event(
        None,
        "info",
        {
            "event": "x",
            "auth_token": "abc",
            "headers": {"Authorization": "Bearer abcdefghijkl", "Accept": "json"},
            "path": "/ws/twilio/media/abcdef",
            "count": 3,
            "_record": object(),
        },
    )

    assert event["auth_token"] == REDACTED
    assert event["headers"] == {"Authorization": REDACTED, "Accept": "json"}
    assert event["path"] == f"/ws/twilio/media/{REDACTED}"
    assert event["count"] == 3


def test_the_filter_masks_message_arguments_and_traceback_keeping_argument_positions():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("tests.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning('%s - "WebSocket %s" %s', "127.0.0.1", f"/ws/twilio/media/{STREAM_TOKEN}", 101)
        try:
            raise ValueError(f"No route found for path '/ws/twilio/media/{STREAM_TOKEN}'.")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    output = stream.getvalue()

    assert STREAM_TOKEN not in output
    assert f'"WebSocket /ws/twilio/media/{REDACTED}" 101' in output
    assert "Traceback" in output


def test_daphne_access_lines_go_through_logging(caplog):
    from daphne.access import AccessLogGenerator

    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger="daphne.access"):
        AccessLogGenerator(stream)(
            "websocket",
            "connecting",
            {"client": "127.0.0.1:5000", "path": f"/ws/twilio/media/{STREAM_TOKEN}"},
        )

    assert stream.getvalue() == ""  # not written past logging
    [record] = [r for r in caplog.records if r.name == "daphne.access"]
    assert "WSCONNECTING /ws/twilio/media/" in record.getMessage()
