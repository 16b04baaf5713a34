"""Streaming a CSV made from the database (a batch's report) to the API and the admin.

Under ASGI, Django gathers a synchronous iterator into a list before sending it; an
asynchronous one is sent as it comes. So under ASGI each chunk is made on the database
thread in the tenant's schema (``voiceagents.tenancy.in_tenant``) and the response streams in
constant memory; under WSGI (and the test client) the iterator is consumed as it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse

from voiceagents.tenancy import current_schema_name, in_tenant

__all__ = ["csv_download"]


async def _in_tenant_chunks(schema_name: str, chunks: Iterator[str]) -> AsyncIterator[str]:
    done = object()
    while True:
        chunk = await in_tenant(schema_name, next, chunks, done)
        if chunk is done:
            return
        yield str(chunk)


def csv_download(
    request: HttpRequest, chunks: Iterator[str], *, filename: str
) -> StreamingHttpResponse:
    """A streamed ``text/csv`` attachment of ``chunks``."""
    content: Iterator[str] | AsyncIterator[str] = chunks
    if isinstance(request, ASGIRequest):
        content = _in_tenant_chunks(current_schema_name(), chunks)
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
