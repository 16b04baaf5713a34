"""The application's error base class. Services raise these; the API's one exception handler
turns them into the JSON error shape, and admin/CLI callers show their message."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """An expected failure a caller can act on. Subclasses set ``code`` and ``status``."""

    code: str = "error"
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
    code = "validation_error"
    status = 400
    default_message = "Some fields are not valid."


class NotFound(ApplicationError):
    """Raised for rows that do not exist *or* belong to someone else: the two must look alike."""

    code = "not_found"
    status = 404
    default_message = "Not found."


class PermissionDenied(ApplicationError):
    code = "permission_denied"
    status = 403
    default_message = "You do not have permission to perform this action."


class Conflict(ApplicationError):
    code = "conflict"
    status = 409
    default_message = "The request conflicts with the current state."


class ServiceUnavailable(ApplicationError):
    code = "service_unavailable"
    status = 503
    default_message = "A service this request needs is unavailable; try again shortly."
