"""One error shape for every API failure:

    {"error": {"code": "not_found", "message": "...", "details": {...}, "request_id": "..."}}

DRF exceptions, Django's Http404/PermissionDenied, our ApplicationError and unexpected crashes
all pass through here (crashes via the JSON handler500 for /api/ paths)."""

from __future__ import annotations

from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from voiceagents.exceptions import ApplicationError, ErrorCode

logger = structlog.get_logger(__name__)

_DRF_CODES = {
    drf_exceptions.ValidationError: ErrorCode.VALIDATION_ERROR,
    drf_exceptions.ParseError: ErrorCode.PARSE_ERROR,
    drf_exceptions.AuthenticationFailed: ErrorCode.AUTHENTICATION_FAILED,
    drf_exceptions.NotAuthenticated: ErrorCode.NOT_AUTHENTICATED,
    drf_exceptions.PermissionDenied: ErrorCode.PERMISSION_DENIED,
    drf_exceptions.NotFound: ErrorCode.NOT_FOUND,
    drf_exceptions.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    drf_exceptions.NotAcceptable: ErrorCode.NOT_ACCEPTABLE,
    drf_exceptions.UnsupportedMediaType: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    drf_exceptions.Throttled: ErrorCode.THROTTLED,
}


def error_body(
    *, code: str, message: str, details: dict[str, Any] | None, request_id: str | None
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "request_id": request_id,
        }
    }


def _request_id(request: HttpRequest | None) -> str | None:
    return getattr(request, "request_id", None) if request is not None else None


def _flatten(detail: Any) -> Any:
    """DRF ErrorDetail trees -> plain lists/dicts of strings."""
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    request_id = _request_id(request)
    headers: dict[str, str] = {}

    if isinstance(exc, ApplicationError):
        return Response(
            error_body(
                code=exc.code, message=exc.message, details=exc.details, request_id=request_id
            ),
            status=exc.status,
        )
    if isinstance(exc, SuspiciousOperation):
        # Django refuses the request itself (a body over the size limit, too many fields):
        # raised when the view first reads the body.
        status, code, message = suspicious_request_error(exc)
        return Response(
            error_body(code=code, message=message, details={}, request_id=request_id),
            status=status,
        )
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    if not isinstance(exc, drf_exceptions.APIException):
        return None  # a crash: Django's handler500 renders it (JSON under /api/) and logs it

    code = next(
        (name for cls, name in _DRF_CODES.items() if isinstance(exc, cls)),
        exc.default_code if isinstance(exc.default_code, str) else ErrorCode.ERROR,
    )
    if isinstance(exc, drf_exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, list):
            detail = {"non_field_errors": detail}
        details = {"fields": _flatten(detail)}
        message = "Some fields are not valid: " + ", ".join(sorted(details["fields"])) + "."
    else:
        details = {}
        message = (
            str(exc.detail) if not isinstance(exc.detail, (dict, list)) else str(exc.default_detail)
        )
        if isinstance(exc.detail, (dict, list)):
            details = {"detail": _flatten(exc.detail)}
    wait: float | None = None
    if isinstance(exc, drf_exceptions.Throttled):
        wait = exc.wait  # type: ignore[attr-defined]  # set in Throttled.__init__; not in the stubs
    if wait is not None:
        retry_after = max(1, int(wait + 0.999))
        headers["Retry-After"] = str(retry_after)
        details["retry_after_seconds"] = retry_after
    # APIView.handle_exception sets ``auth_header`` on 401s: not an attribute of the class.
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    response = Response(
        error_body(code=code, message=message, details=details, request_id=request_id),
        status=exc.status_code,
        headers=headers,
    )
    return response


def suspicious_request_error(exc: SuspiciousOperation) -> tuple[int, str, str]:
    """Status, code and message for a request Django refuses as suspicious: a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 saying the limit, anything else a 400 saying what."""
    logger.warning("suspicious_request", reason=exc.__class__.__name__, error=str(exc))
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return (
            413,
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"The request body is larger than the limit of {limit / (1024 * 1024):g} MiB "
            f"({limit} bytes); uploaded files do not count towards it.",
        )
    return 400, ErrorCode.BAD_REQUEST, str(exc) or "The request cannot be processed."


def json_error_response(
    request: HttpRequest, *, status: int, code: str, message: str
) -> JsonResponse:
    return JsonResponse(
        error_body(code=code, message=message, details={}, request_id=_request_id(request)),
        status=status,
    )
