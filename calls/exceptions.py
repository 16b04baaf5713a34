"""Errors of the telephony app. All are ApplicationErrors, rendered by the API's one handler;
every one the calls app raises is defined here, with its code in ``CallsErrorCode``."""

from enum import StrEnum

from voiceagents.exceptions import ApplicationError, Conflict, NotFound, ValidationFailed

__all__ = [
    "AgentUnavailable",
    "CallAlreadyEnded",
    "CallNotFound",
    "CallNotInProgress",
    "CallsErrorCode",
    "CarrierNotConfigured",
    "CarrierRequestFailed",
    "ConcurrencyLimitReached",
    "InvalidPhoneNumber",
    "InvalidStreamToken",
    "MessageNotFound",
    "NoCallerId",
    "PhoneNumberNotFound",
    "PhoneNumberTaken",
]


class CallsErrorCode(StrEnum):
    """Every error code of the calls app (``error.code`` in API responses)."""

    INVALID_PHONE_NUMBER = "invalid_phone_number"
    PHONE_NUMBER_NOT_FOUND = "phone_number_not_found"
    PHONE_NUMBER_TAKEN = "phone_number_taken"
    CALL_NOT_FOUND = "call_not_found"
    MESSAGE_NOT_FOUND = "message_not_found"
    AGENT_UNAVAILABLE = "agent_unavailable"
    NO_CALLER_ID = "no_caller_id"
    CONCURRENCY_LIMIT_REACHED = "concurrency_limit_reached"
    CALL_ALREADY_ENDED = "call_already_ended"
    CALL_NOT_IN_PROGRESS = "call_not_in_progress"
    CARRIER_NOT_CONFIGURED = "carrier_not_configured"
    CARRIER_ERROR = "carrier_error"
    INVALID_STREAM_TOKEN = "invalid_stream_token"


class InvalidPhoneNumber(ValidationFailed):
    code = CallsErrorCode.INVALID_PHONE_NUMBER
    default_message = "This is not a valid phone number in E.164 form (e.g. +14155550100)."


class PhoneNumberNotFound(NotFound):
    code = CallsErrorCode.PHONE_NUMBER_NOT_FOUND
    default_message = "Phone number not found."


class PhoneNumberTaken(Conflict):
    """Same answer whether this or another organization holds it, so nothing leaks."""

    code = CallsErrorCode.PHONE_NUMBER_TAKEN
    default_message = "This phone number is already registered."


class CallNotFound(NotFound):
    code = CallsErrorCode.CALL_NOT_FOUND
    default_message = "Call not found."


class MessageNotFound(NotFound):
    code = CallsErrorCode.MESSAGE_NOT_FOUND
    default_message = "Message not found."


class AgentUnavailable(Conflict):
    code = CallsErrorCode.AGENT_UNAVAILABLE
    default_message = "This agent is paused; resume it before it makes calls."


class NoCallerId(ValidationFailed):
    code = CallsErrorCode.NO_CALLER_ID
    default_message = (
        "No number to call from: pass from_phone, set the organization's default caller id "
        "or assign a number to the agent."
    )


class ConcurrencyLimitReached(ApplicationError):
    code = CallsErrorCode.CONCURRENCY_LIMIT_REACHED
    status = 429
    default_message = "The organization already has as many calls running as it is allowed."


class CallAlreadyEnded(Conflict):
    code = CallsErrorCode.CALL_ALREADY_ENDED
    default_message = "This call has already ended."


class CallNotInProgress(Conflict):
    code = CallsErrorCode.CALL_NOT_IN_PROGRESS
    default_message = "Only a call in progress can be transferred."


class CarrierNotConfigured(ApplicationError):
    code = CallsErrorCode.CARRIER_NOT_CONFIGURED
    status = 503
    default_message = "This telephony carrier is not configured on the platform."


class CarrierRequestFailed(ApplicationError):
    """The carrier refused or could not be reached; details keep its code and message."""

    code = CallsErrorCode.CARRIER_ERROR
    status = 502
    default_message = "The telephony carrier refused the request."


class InvalidStreamToken(ApplicationError):
    code = CallsErrorCode.INVALID_STREAM_TOKEN
    status = 403
    default_message = "This media stream token is invalid, expired or already used."
