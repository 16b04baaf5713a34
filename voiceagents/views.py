"""Project-level views: health, metrics, the landing page and JSON error pages for /api/."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.defaults import page_not_found, server_error

from voiceagents import health, metrics
from voiceagents.api.exceptions import json_error_response
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


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_not_found(request)
    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_error_response(
            request,
            status=500,
            code=ErrorCode.SERVER_ERROR,
            message="Something went wrong on our side; it has been logged. "
            "Quote the request_id if you contact support.",
        )
    return server_error(request)
