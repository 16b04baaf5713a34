"""Errors of the telephony app. All are ApplicationErrors, rendered by the API's one handler."""

from voiceagents.exceptions import ApplicationError, Conflict, NotFound, ValidationFailed


class InvalidPhoneNumber(ValidationFailed):
    code = "invalid_phone_number"
    default_message = "This is not a valid phone number in E.164 form (e.g. +14155550100)."


class PhoneNumberNotFound(NotFound):
    code = "phone_number_not_found"
    default_message = "Phone number not found."


class PhoneNumberTaken(Conflict):
    """Same answer whether this or another organization holds it, so nothing leaks."""

    code = "phone_number_taken"
    default_message = "This phone number is already registered."


class CallNotFound(NotFound):
    code = "call_not_found"
    default_message = "Call not found."


class MessageNotFound(NotFound):
    code = "message_not_found"
    default_message = "Message not found."


class AgentUnavailable(Conflict):
    code = "agent_unavailable"
    default_message = "This agent is paused; resume it before it makes calls."


class NoCallerId(ValidationFailed):
    code = "no_caller_id"
    default_message = (
        "No number to call from: pass from_phone, set the organization's default caller id "
        "or assign a number to the agent."
    )


class ConcurrencyLimitReached(ApplicationError):
    code = "concurrency_limit_reached"
    status = 429
    default_message = "The organization already has as many calls running as it is allowed."


class CallAlreadyEnded(Conflict):
    code = "call_already_ended"
    default_message = "This call has already ended."


class CallNotInProgress(Conflict):
    code = "call_not_in_progress"
    default_message = "Only a call in progress can be transferred."


class CarrierNotConfigured(ApplicationError):
    code = "carrier_not_configured"
    status = 503
    default_message = "This telephony carrier is not configured on the platform."


class CarrierRequestFailed(ApplicationError):
    """The carrier refused or could not be reached; details keep its code and message."""

    code = "carrier_error"
    status = 502
    default_message = "The telephony carrier refused the request."


class InvalidStreamToken(ApplicationError):
    code = "invalid_stream_token"
    status = 403
    default_message = "This media stream token is invalid, expired or already used."
