"""HTTP middleware of the project: request context for logs, and request metrics."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from django.http import HttpRequest, HttpResponse

from voiceagents.metrics import HTTP_LATENCY, HTTP_REQUESTS

logger = structlog.get_logger("voiceagents.request")

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Gives each request an id (the caller's X-Request-ID when it is sane), binds it to every
    log line of the request, echoes it in the response and logs one access line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_OK.match(incoming) else new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]  # read by the error handler
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        tenant = getattr(request, "tenant", None)
        if request.path not in ("/healthz", "/metrics"):
            logger.info(
                "request",
                method=request.method,
                path=request.path,
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                organization=getattr(tenant, "schema_name", None),
            )
        structlog.contextvars.clear_contextvars()
        return response


class MetricsMiddleware:
    """Counts requests and their latency by route pattern (not raw path, so ids do not explode
    the label set)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            structlog.contextvars.bind_contextvars(organization=tenant.schema_name)
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = "/" + match.route if match is not None and match.route else "unmatched"
        HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        HTTP_LATENCY.labels(route, request.method).observe(time.perf_counter() - started)
        return response
