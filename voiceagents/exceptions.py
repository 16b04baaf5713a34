"""The application's error base class. Services raise these; the API's one exception handler
turns them into the JSON error shape, and admin/CLI callers show their message."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """The generic error codes: the base classes below, the API's exception handler (DRF's own
    failures) and the JSON error pages. Each app lists its own in its ``exceptions.py``."""

    ERROR = "error"
    BAD_REQUEST = "bad_request"
    VALIDATION_ERROR = "validation_error"
    PARSE_ERROR = "parse_error"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    AUTHENTICATION_FAILED = "authentication_failed"
    NOT_AUTHENTICATED = "not_authenticated"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    CONFLICT = "conflict"
    THROTTLED = "throttled"
    SERVICE_UNAVAILABLE = "service_unavailable"
    SERVER_ERROR = "server_error"


class ApplicationError(Exception):
    """An expected failure a caller can act on. Subclasses set ``code`` and ``status``."""

    code: str = ErrorCode.ERROR
    status: int = 400
    default_message: str = "The request could not be completed."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        super().__init__(self.message)


class ValidationFailed(ApplicationError):
    code: str = ErrorCode.VALIDATION_ERROR
    status = 400
    default_message = "Some fields are not valid."

    @classmethod
    def for_fields(cls, fields: dict[str, list[str]]) -> ValidationFailed:
        """The error for field -> problems, in the API's shape (``details["fields"]``)."""
        return cls(
            "Some fields are not valid: " + ", ".join(sorted(fields)) + ".",
            details={"fields": fields},
        )


class NotFound(ApplicationError):
    """Raised for rows that do not exist *or* belong to someone else: the two must look alike."""

    code: str = ErrorCode.NOT_FOUND
    status = 404
    default_message = "Not found."


class PermissionDenied(ApplicationError):
    code: str = ErrorCode.PERMISSION_DENIED
    status = 403
    default_message = "You do not have permission to perform this action."


class Conflict(ApplicationError):
    code: str = ErrorCode.CONFLICT
    status = 409
    default_message = "The request conflicts with the current state."


class ServiceUnavailable(ApplicationError):
    code: str = ErrorCode.SERVICE_UNAVAILABLE
    status = 503
    default_message = "A service this request needs is unavailable; try again shortly."
