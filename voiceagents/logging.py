"""Structured JSON logging: structlog for our code, the same renderer for stdlib loggers
(Django, Celery, daphne, uvicorn), and contextvars so request id, organization and call id
are bound to every line once known (voiceagents.middleware binds them for HTTP; consumers
and tasks bind their own).

No secret reaches a log line: every line passes :func:`redact` on its way out, as a structlog
processor (after exceptions are formatted, so tracebacks are covered too) and as a stdlib
filter on every handler (the ASGI servers' own loggers included). It masks media-stream
tokens in paths, secret-looking query and key=value pairs (``token=``, ``key=``, ``secret=``,
``password=``, invitation links), ``Authorization`` credentials, our API keys, signed values
and JWTs, passwords in URLs, and the platform's configured secrets wherever they appear.
"""

from __future__ import annotations

import logging
import logging.config
import re
import sys
from collections.abc import Mapping
from typing import Any

import structlog
from daphne.access import AccessLogGenerator
from django.conf import settings
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = ["REDACTED", "RedactingFilter", "configure_logging", "redact", "redact_event"]

REDACTED = "[redacted]"
DEFAULT_API_KEY_PREFIX = "va_live_"

# Never match our own mask again (the filter and the processor may both see a line).
_NOT_MASKED = r"(?!\[redacted\])"
# A value at one of these keys (a structlog field, a JSON object's key) is masked whole.
_SECRET_FIELD = re.compile(
    r"(?i)(?:^|[_-])(token|secret|password|passwd|api[_-]?key|authorization|auth|cookie|"
    r"signature)$"
)
_TEXT_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # The single-use token of a media stream URL: /ws/<carrier>/media/<token>
    (re.compile(r"(/ws/[\w-]+/media/)[^/\s\"'?#]+"), rf"\1{REDACTED}"),
    # key=value and "key": "value" where the key names a secret (query strings, forms, reprs)
    (
        re.compile(
            r"(?i)(\b(?:[\w-]*[_.-])?(?:token|secret|password|passwd|pwd|apikey|key|signature|"
            r"auth)[\"']?\s*(?:=|:\s)\s*[\"']?)" + _NOT_MASKED + r"([^\s&\"',;}\]]+)"
        ),
        rf"\1{REDACTED}",
    ),
    # Authorization: Bearer <token> / Basic <base64>
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {REDACTED}"),
    # JWTs and Django signed values (base64 JSON, then one or two dotted parts)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}(?:[.:][A-Za-z0-9_=-]+){1,2}"), REDACTED),
    # passwords in URLs: scheme://user:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@"), rf"\1{REDACTED}@"),
]
# Filled on first use from Django's settings (API key prefix, configured secrets).
_settings_patterns: list[tuple[re.Pattern[str], str]] | None = None


def _patterns_from_settings() -> list[tuple[re.Pattern[str], str]]:
    global _settings_patterns
    if _settings_patterns is not None:
        return _settings_patterns
    if not settings.configured:
        # Logging while the settings load (this module is configured from them): reading
        # them now would set them up half-loaded. Try again on the next line.
        return [_api_key_pattern(DEFAULT_API_KEY_PREFIX)]
    prefix = getattr(settings, "API_KEY_PREFIX", "") or DEFAULT_API_KEY_PREFIX
    secrets = _configured_secrets(settings)
    patterns = [_api_key_pattern(prefix)]
    if secrets:
        alternatives = "|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True))
        patterns.append((re.compile(alternatives), REDACTED))
    _settings_patterns = patterns
    return patterns


def _api_key_pattern(prefix: str) -> tuple[re.Pattern[str], str]:
    return re.compile(re.escape(prefix) + r"[A-Za-z0-9_-]{4,}"), prefix + REDACTED


def _configured_secrets(settings: Any) -> set[str]:
    """The secret values in the settings, to be masked wherever they show up."""
    names = (
        "SECRET_KEY",
        "TWILIO_AUTH_TOKEN",
        "PLIVO_AUTH_TOKEN",
        "OPENAI_API_KEY",
        "GEMINI_API_KEY",
        "HUME_API_KEY",
        "SUPABASE_JWT_SECRET",
    )
    values = {str(getattr(settings, name, "") or "") for name in names}
    values.update(str(key) for key in getattr(settings, "SECRETS_ENCRYPTION_KEYS", []) or [])
    values.add(str(settings.DATABASES.get("default", {}).get("PASSWORD") or ""))
    # Short values would mask ordinary words; real secrets are long.
    return {value for value in values if len(value) >= 8}


def redact(text: str) -> str:
    """``text`` with every secret we recognize replaced by ``[redacted]``."""
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    for pattern, replacement in _patterns_from_settings():
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact(value)
    if depth > 4:
        return value
    if isinstance(value, Mapping):
        return {k: _redact_field(k, v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v, depth + 1) for v in value]
    if type(value) is tuple:
        return tuple(_redact_value(v, depth + 1) for v in value)
    return value


def _redact_field(key: Any, value: Any, depth: int = 0) -> Any:
    if isinstance(key, str) and value and _SECRET_FIELD.search(key):
        return REDACTED
    return _redact_value(value, depth)


def redact_event(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: redact every field of the event (run it after the exception is
    formatted into ``exception``)."""
    return {
        key: value if key.startswith("_") else _redact_field(key, value)
        for key, value in event_dict.items()
    }


class RedactingFilter(logging.Filter):
    """Redacts a stdlib record's message, arguments and traceback in place, for handlers
    whose formatter is not ours (structlog's records carry a dict and are redacted by
    :func:`redact_event` instead). Arguments keep their positions: some formatters (uvicorn's
    access formatter) unpack them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            return True
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _redact_field(k, v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _filter_every_handler(redacting: RedactingFilter) -> None:
    """Put the filter on every handler that exists now: the root's and every logger's (the
    ASGI servers configure theirs before they load the application, so they exist)."""
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(redacting)


def _daphne_access_through_logging() -> None:
    """daphne's command line writes its access log (``WSCONNECT /ws/twilio/media/<token>``)
    straight to stdout, past logging and so past redaction: send its lines to the
    ``daphne.access`` logger instead (configured below like any other)."""
    access = logging.getLogger("daphne.access")

    def write_entry(
        self: AccessLogGenerator,
        host: str,
        date: Any,
        request: str,
        status: Any = None,
        length: Any = None,
        ident: Any = None,
        user: Any = None,
    ) -> None:
        access.info('%s "%s" %s %s', host, request, status or "-", length or "-")

    AccessLogGenerator.write_entry = write_entry


_configured = False


def configure_logging(*, level: str = "INFO", fmt: str = "json") -> None:
    global _configured
    if _configured:
        return
    _configured = True

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structured": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "foreign_pre_chain": shared,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.format_exc_info,
                        redact_event,
                        renderer,
                    ],
                }
            },
            "filters": {"redact": {"()": RedactingFilter}},
            "handlers": {
                "stdout": {
                    "class": "logging.StreamHandler",
                    "stream": sys.stdout,
                    "formatter": "structured",
                    "filters": ["redact"],
                }
            },
            "root": {"handlers": ["stdout"], "level": level},
            "loggers": {
                # The per-request access line comes from our middleware, with the request id.
                "django.server": {"level": "WARNING"},
                "daphne.access": {"level": "WARNING"},
                "django.request": {"level": "ERROR"},
                "httpx": {"level": "WARNING"},
                "httpx2": {"level": "WARNING"},
                # The Twilio SDK logs every request at INFO, twelve lines of its headers each:
                # noise, and 1.6 ms of CPU per dial (bench/bench_schedules.py). Our carrier
                # client logs what happened to each call.
                "twilio": {"level": "WARNING"},
                # The MCP SDK logs every message it sends (tool arguments) at DEBUG.
                "mcp": {"level": "INFO"},
                "websockets": {"level": "WARNING"},
                # uvicorn configured its loggers with handlers of its own before loading us:
                # its lines (WebSocket paths with their tokens among them) go through ours.
                "uvicorn": {"handlers": ["stdout"], "propagate": False},
                "uvicorn.access": {"handlers": ["stdout"], "propagate": False},
            },
        }
    )
    _filter_every_handler(RedactingFilter())
    _daphne_access_through_logging()
