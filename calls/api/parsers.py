"""Request bodies that carry a batch's input (an upload, inline rows, a do-not-call CSV): the
API's own parsers, refusing a body over BATCH_MAX_FILE_BYTES (413, the JSON error shape) from
its Content-Length, before any of it is read. The service checks the file's exact size."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django.conf import settings
from rest_framework.parsers import BaseParser
from rest_framework.settings import api_settings

from calls.batch_sources import too_large

__all__ = ["FORM_ALLOWANCE", "body_limited_parsers"]

# Room in a multipart body for the fields around the file (the settings, the mapping).
FORM_ALLOWANCE = 1024 * 1024


class _BodyLimit(BaseParser):
    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        request = (parser_context or {}).get("request")
        limit = int(settings.BATCH_MAX_FILE_BYTES)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            length = 0
        if length > limit + FORM_ALLOWANCE:
            raise too_large(limit)
        return super().parse(stream, media_type, parser_context)


def body_limited_parsers() -> list[type[BaseParser]]:
    """The API's parsers (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES), each with the limit."""
    # The setting's entries are parser classes once DRF has imported them (typed as names).
    parsers = cast("list[type[BaseParser]]", api_settings.DEFAULT_PARSER_CLASSES)
    return [type(f"BodyLimited{parser.__name__}", (_BodyLimit, parser), {}) for parser in parsers]
