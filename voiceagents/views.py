"""Project-level views: health, metrics, the landing page and JSON error pages for /api/."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import csrf
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import bad_request, page_not_found, permission_denied, server_error

from voiceagents import health, metrics
from voiceagents.api.exceptions import json_error_response, suspicious_request_error
from voiceagents.exceptions import ErrorCode


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    ready, checks = health.readiness()
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


def metrics_view(request: HttpRequest) -> HttpResponse:
    body, content_type = metrics.render()
    return HttpResponse(body, content_type=content_type)


# Exempt: an unsafe method must get the same 404 as GET, not the CSRF check's HTML 403 (no
# route here reads a cookie or changes anything).
@csrf_exempt
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    return json_error_response(
        request,
        status=404,
        code=ErrorCode.NOT_FOUND,
        message=f"No API route matches {request.method} {request.path}. "
        "See /api/docs/ for the available routes.",
    )


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "landing.html", {})


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Requests Django refuses before or outside DRF (a body over DATA_UPLOAD_MAX_MEMORY_SIZE
    is a 413 here, saying the limit)."""
    if not _is_api(request):
        return bad_request(request, exception or SuspiciousOperation())
    if isinstance(exception, SuspiciousOperation):
        status, code, message = suspicious_request_error(exception)
    else:
        status, code, message = 400, ErrorCode.BAD_REQUEST, "The request cannot be processed."
    return json_error_response(request, status=status, code=code, message=message)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not _is_api(request):
        return permission_denied(request, exception or PermissionDenied())
    return json_error_response(
        request,
        status=403,
        code=ErrorCode.PERMISSION_DENIED,
        message="You do not have permission to perform this action.",
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the API's shape under /api/ (API clients send a bearer token and
    never need a CSRF token), Django's page elsewhere."""
    if not _is_api(request):
        return csrf.csrf_failure(request, reason)
    return json_error_response(
        request,
        status=403,
        code=ErrorCode.PERMISSION_DENIED,
        message=f"CSRF verification failed ({reason}). API clients authenticate with "
        "'Authorization: Bearer <API key or JWT>'.",
    )


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request)
    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return json_error_response(
            request,
            status=500,
            code=ErrorCode.SERVER_ERROR,
            message="Something went wrong on our side; it has been logged. "
            "Quote the request_id if you contact support.",
        )
    return server_error(request)
