"""The API's OpenAPI description (``/api/schema/``) beyond what drf-spectacular infers.

- The one error shape, ``Error``, on every operation, with the statuses that operation can
  answer: derived here from the operation itself (a body or query parameters can be invalid,
  a body can be too large or of another type, a path or a body names something that may not
  exist, every credential can be refused or throttled).
  Statuses only some workflows answer (409, 502, 503) are declared on those views with
  :func:`error_response`.
- Descriptions come only from ``extend_schema(summary=..., description=...)`` and
  ``extend_schema_serializer(description=...)``: docstrings are written for maintainers, not
  integrators, and never reach the schema (``DISABLE_DOCSTRING_DESCRIPTIONS``).
- Every ``TimeField`` is a time of day without an offset, which is what DRF reads and writes;
  OpenAPI's ``format: time`` (RFC 3339 ``full-time``) would require one.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import force_instance, get_view_model
from drf_spectacular.utils import OpenApiResponse, extend_schema_serializer
from rest_framework import serializers
from rest_framework.schemas.utils import get_pk_description

__all__ = [
    "AutoSchema",
    "ErrorSerializer",
    "error_response",
]

TIME_OF_DAY_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"
_ID_PATTERNS = ("^[0-9]+$", "^\\d+$")
_FORMATS = ("uri", "email")
_ID_DESCRIPTIONS = {
    "kb_id": "The knowledge base's id.",
    "member_id": "The membership's id (`id` in the member list).",
}


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Stable and machine-readable: `validation_error`, `not_found`, "
        "`agent_unavailable`... Branch on this, not on the message."
    )
    message = serializers.CharField(help_text="What went wrong, written for a person.")
    details = serializers.DictField(
        help_text="More about the failure. A validation error has `fields` (each field, by "
        "its path, with its problems); a throttled request has `retry_after_seconds`. Empty "
        "when there is nothing to add."
    )
    request_id = serializers.CharField(
        allow_null=True,
        help_text="The request's id, also in the `X-Request-ID` response header. Quote it "
        "when you contact support.",
    )


@extend_schema_serializer(
    description="Every failed request answers this shape, whatever its status."
)
class ErrorSerializer(serializers.Serializer):
    """The error shape voiceagents.api.exceptions renders."""

    error = ErrorBodySerializer()


_ERROR_DESCRIPTIONS = {
    400: "The request is not valid: `error.details.fields` lists each field with its "
    "problems (`validation_error`), or the body could not be parsed (`parse_error`).",
    401: "No credential, or one that is invalid, expired or revoked.",
    403: "The credential's role does not allow this operation, or the credential belongs "
    "to another organization than the domain the request was sent to.",
    404: "Nothing with this id in your organization: the id in the path or one the body "
    "names (`agent_id`...), or a page past the last one.",
    413: "The body is larger than the API accepts: `error.message` says the limit.",
    415: "The body's Content-Type is not one this operation takes.",
    429: "Too many requests with this credential: retry after the number of seconds in "
    "the `Retry-After` header (also `error.details.retry_after_seconds`).",
}


def error_response(description: str) -> OpenApiResponse:
    """An error answer of a workflow view, for ``extend_schema(responses={409: ...})``."""
    return OpenApiResponse(response=ErrorSerializer, description=description)


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, with the error responses every operation can answer and
    ids typed as integers."""

    def _resolve_path_parameters(self, variables: list[str]) -> list[dict[str, Any]]:
        # Routes take ids as ``[0-9]+`` (anything else is an unknown route), which
        # drf-spectacular reads as a string pattern: an id is an integer.
        parameters: list[dict[str, Any]] = super()._resolve_path_parameters(variables)
        model = get_view_model(self.view, emit_warnings=False)
        for parameter in parameters:
            if parameter["schema"].get("pattern") in _ID_PATTERNS:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                if parameter["name"] in _ID_DESCRIPTIONS:
                    parameter["description"] = _ID_DESCRIPTIONS[parameter["name"]]
                elif model is not None and parameter["name"] in ("id", "pk"):
                    parameter["description"] = get_pk_description(model, model._meta.pk)
        return parameters

    def _map_serializer_field(
        self, field: serializers.Field, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)
        # A ModelSerializer drops allow_blank from the fields it makes read-only, so the schema
        # would promise a choice or a URL where the API answers "": put the blank back.
        blank_choice = "enum" in schema and "" not in schema["enum"]
        if blank_choice and field.read_only and _blank_model_field(field):
            schema["enum"] = [*schema["enum"], ""]
        # A JSON column whose default is {} or [] holds an object or an array.
        if isinstance(field, serializers.JSONField) and not ({"type", "$ref"} & set(schema)):
            schema = {**_json_column_type(field), **schema}
        return schema

    def _insert_field_validators(self, field: serializers.Field, schema: dict[str, Any]) -> None:
        super()._insert_field_validators(field, schema)
        # The same for a URL or an email address that may be blank ("" is neither).
        if field.read_only and _blank_model_field(field) and schema.get("format") in _FORMATS:
            del schema["format"]

    def _body_names_a_row(self) -> bool:
        """Whether the request body names another row by id (``agent_id``, ``call_id``): one
        that is not the organization's answers 404, like an id in the path."""
        if self.method not in ("POST", "PUT", "PATCH"):
            return False
        request = self.get_request_serializer()
        for serializer in request.values() if isinstance(request, dict) else [request]:
            serializer = force_instance(serializer)
            if isinstance(serializer, serializers.Serializer) and any(
                name.endswith("_id") and not field.read_only
                for name, field in serializer.fields.items()
            ):
                return True
        return False

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        statuses = _error_statuses(
            operation, method=method.upper(), body_names_a_row=self._body_names_a_row()
        )
        for status in statuses:
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    error_response(_ERROR_DESCRIPTIONS[status]), str(status)
                )
        operation["responses"] = dict(sorted(responses.items()))
        return operation


def _error_statuses(operation: dict[str, Any], *, method: str, body_names_a_row: bool) -> list[int]:
    parameters = operation.get("parameters", [])
    statuses = []
    if method in ("POST", "PUT", "PATCH") or any(p["in"] == "query" for p in parameters):
        statuses.append(400)
    if operation.get("security"):
        statuses += [401, 403]
    names_a_row = body_names_a_row or any(p["in"] == "path" for p in parameters)
    pages = any(p["in"] == "query" and p["name"] == "page" for p in parameters)
    if names_a_row or pages:
        statuses.append(404)
    if "requestBody" in operation:
        statuses += [413, 415]
    if operation.get("security"):
        statuses.append(429)
    return statuses


def _model_field(field: serializers.Field) -> Any:
    """The column of a ModelSerializer's model that ``field`` shows, if it shows one."""
    meta = getattr(field.parent, "Meta", None)
    model = getattr(meta, "model", None)
    if model is None or not isinstance(field.source, str) or "." in field.source:
        return None
    try:
        return model._meta.get_field(field.source)
    except FieldDoesNotExist:
        return None


def _blank_model_field(field: serializers.Field) -> bool:
    """Whether ``field`` shows a text column that may be blank."""
    model_field = _model_field(field)
    return isinstance(model_field, models.CharField | models.TextField) and model_field.blank


def _json_column_type(field: serializers.Field) -> dict[str, Any]:
    model_field = _model_field(field)
    default = model_field.default if isinstance(model_field, models.JSONField) else None
    if default is dict:
        return {"type": "object", "additionalProperties": {}}
    if default is list:
        return {"type": "array", "items": {}}
    return {}


class TimeOfDayFieldExtension(OpenApiSerializerFieldExtension):
    """``09:00`` or ``09:00:00``, local to the organization's (or the number's) time zone."""

    target_class = "rest_framework.fields.TimeField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": TIME_OF_DAY_PATTERN,
            "example": "09:00:00",
            "description": "A time of day, HH:MM or HH:MM:SS, without a UTC offset.",
        }
