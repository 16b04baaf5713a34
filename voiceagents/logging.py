"""Structured JSON logging: structlog for our code, the same renderer for stdlib loggers
(Django, Celery, daphne), and contextvars so request id, organization and call id are bound
to every line once known (voiceagents.middleware binds them for HTTP; consumers and tasks bind
their own)."""

from __future__ import annotations

import logging
import logging.config
import sys

import structlog
from structlog.typing import Processor

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
                        renderer,
                    ],
                }
            },
            "handlers": {
                "stdout": {
                    "class": "logging.StreamHandler",
                    "stream": sys.stdout,
                    "formatter": "structured",
                }
            },
            "root": {"handlers": ["stdout"], "level": level},
            "loggers": {
                # The per-request access line comes from our middleware, with the request id.
                "django.server": {"level": "WARNING"},
                "daphne.access": {"level": "WARNING"},
                "django.request": {"level": "ERROR"},
                "httpx": {"level": "WARNING"},
                "websockets": {"level": "WARNING"},
            },
        }
    )
