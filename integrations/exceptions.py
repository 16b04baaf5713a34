"""Errors of the integrations app, and every error code it answers with. Messages never hold
a secret: they name the kind, the identifiers at most, and what to set."""

from __future__ import annotations

from enum import StrEnum

from voiceagents.exceptions import ApplicationError, Conflict, NotFound

__all__ = [
    "CredentialKindTaken",
    "CredentialMissing",
    "CredentialNotFound",
    "CredentialUnreadable",
    "CustomToolNameTaken",
    "CustomToolNotFound",
    "IntegrationNotFound",
    "IntegrationSlugTaken",
    "IntegrationsErrorCode",
    "ToolArgumentsInvalid",
    "ToolBadResponse",
    "ToolError",
    "ToolExecutionNotFound",
    "ToolFailed",
    "ToolNotEnabled",
    "ToolServerUnreachable",
    "ToolTimedOut",
    "ToolUnknown",
    "ToolUrlRefused",
    "WebhookDeliveryNotFound",
    "WebhookEndpointNotFound",
]


class IntegrationsErrorCode(StrEnum):
    CREDENTIAL_NOT_FOUND = "credential_not_found"
    CREDENTIAL_KIND_TAKEN = "credential_kind_taken"
    CREDENTIAL_MISSING = "credential_missing"
    CREDENTIAL_UNREADABLE = "credential_unreadable"
    INTEGRATION_NOT_FOUND = "integration_not_found"
    INTEGRATION_SLUG_TAKEN = "integration_slug_taken"
    CUSTOM_TOOL_NOT_FOUND = "custom_tool_not_found"
    CUSTOM_TOOL_NAME_TAKEN = "custom_tool_name_taken"
    TOOL_EXECUTION_NOT_FOUND = "tool_execution_not_found"
    TOOL_UNKNOWN = "tool_unknown"
    TOOL_NOT_ENABLED = "tool_not_enabled"
    TOOL_ARGUMENTS_INVALID = "tool_arguments_invalid"
    TOOL_SERVER_UNREACHABLE = "tool_server_unreachable"
    TOOL_URL_REFUSED = "tool_url_refused"
    TOOL_TIMED_OUT = "tool_timed_out"
    TOOL_FAILED = "tool_failed"
    TOOL_BAD_RESPONSE = "tool_bad_response"
    WEBHOOK_ENDPOINT_NOT_FOUND = "webhook_endpoint_not_found"
    WEBHOOK_DELIVERY_NOT_FOUND = "webhook_delivery_not_found"


class CredentialNotFound(NotFound):
    code = IntegrationsErrorCode.CREDENTIAL_NOT_FOUND
    default_message = "Credential not found."


class CredentialKindTaken(Conflict):
    """An organization holds one credential per kind: change it (PATCH) instead."""

    code = IntegrationsErrorCode.CREDENTIAL_KIND_TAKEN
    default_message = "This organization already has a credential of this kind; change it instead."


class CredentialMissing(ApplicationError):
    """Nothing usable for a provider: the organization has no credential of that kind and the
    platform's own account is not configured or not allowed. The message says what to set."""

    code = IntegrationsErrorCode.CREDENTIAL_MISSING
    status = 503
    default_message = "No credential is configured for this provider."


class CredentialUnreadable(ApplicationError):
    """The organization's stored secret cannot be decrypted with the configured keys (a key
    was dropped before ``manage.py secrets_reencrypt`` ran). Never falls back to the platform."""

    code = IntegrationsErrorCode.CREDENTIAL_UNREADABLE
    status = 503
    default_message = (
        "A stored credential cannot be decrypted with the configured SECRETS_ENCRYPTION_KEYS."
    )


# --- tools ----------------------------------------------------------------------------------------


class IntegrationNotFound(NotFound):
    code = IntegrationsErrorCode.INTEGRATION_NOT_FOUND
    default_message = "Integration not found."


class IntegrationSlugTaken(Conflict):
    code = IntegrationsErrorCode.INTEGRATION_SLUG_TAKEN
    default_message = "Another integration of this organization has this slug."


class CustomToolNotFound(NotFound):
    code = IntegrationsErrorCode.CUSTOM_TOOL_NOT_FOUND
    default_message = "Custom tool not found."


class CustomToolNameTaken(Conflict):
    code = IntegrationsErrorCode.CUSTOM_TOOL_NAME_TAKEN
    default_message = "Another custom tool of this organization has this name."


class ToolExecutionNotFound(NotFound):
    code = IntegrationsErrorCode.TOOL_EXECUTION_NOT_FOUND
    default_message = "Tool execution not found."


class ToolError(ApplicationError):
    """A tool could not run or reported a failure. The message is safe to show (to an API
    caller, and to the model during a call): it never holds a header or a token."""

    status = 502


class ToolUnknown(ToolError):
    code = IntegrationsErrorCode.TOOL_UNKNOWN
    status = 404
    default_message = "The server does not list this tool."


class ToolNotEnabled(ToolError):
    code = IntegrationsErrorCode.TOOL_NOT_ENABLED
    status = 409
    default_message = "This tool is not enabled on its integration."


class ToolArgumentsInvalid(ToolError):
    code = IntegrationsErrorCode.TOOL_ARGUMENTS_INVALID
    status = 400
    default_message = "The arguments do not match the tool's input schema."


class ToolServerUnreachable(ToolError):
    code = IntegrationsErrorCode.TOOL_SERVER_UNREACHABLE
    default_message = "The tool's server could not be reached."


class ToolUrlRefused(ToolError):
    """The URL names a private, loopback or link-local address (or plain http) that this
    deployment does not allow."""

    code = IntegrationsErrorCode.TOOL_URL_REFUSED
    status = 400
    default_message = "This server does not connect to that address."


class ToolTimedOut(ToolError):
    code = IntegrationsErrorCode.TOOL_TIMED_OUT
    status = 504
    default_message = "The tool did not answer in time."


class ToolFailed(ToolError):
    """The tool ran and reported an error (MCP ``isError``, or a custom tool's non-2xx)."""

    code = IntegrationsErrorCode.TOOL_FAILED
    default_message = "The tool reported an error."


class ToolBadResponse(ToolError):
    code = IntegrationsErrorCode.TOOL_BAD_RESPONSE
    default_message = "The tool's answer could not be read."


# --- webhooks -------------------------------------------------------------------------------------


class WebhookEndpointNotFound(NotFound):
    code = IntegrationsErrorCode.WEBHOOK_ENDPOINT_NOT_FOUND
    default_message = "Webhook endpoint not found."


class WebhookDeliveryNotFound(NotFound):
    code = IntegrationsErrorCode.WEBHOOK_DELIVERY_NOT_FOUND
    default_message = "Webhook delivery not found."
