"""Errors of the telephony app. All are ApplicationErrors, rendered by the API's one handler;
every one the calls app raises is defined here, with its code in ``CallsErrorCode``."""

from enum import StrEnum

from voiceagents.exceptions import ApplicationError, Conflict, NotFound, ValidationFailed

__all__ = [
    "AIProviderNotConfigured",
    "AgentUnavailable",
    "BatchEmpty",
    "BatchNotDeletable",
    "BatchNotEditable",
    "BatchNotFound",
    "BatchSourceRefused",
    "BatchSourceTooLarge",
    "BatchSourceUnavailable",
    "BatchSourceUnreadable",
    "BatchStatusConflict",
    "CallAlreadyEnded",
    "CallNotFound",
    "CallNotInProgress",
    "CallsErrorCode",
    "CarrierNotConfigured",
    "CarrierRequestFailed",
    "ConcurrencyLimitReached",
    "DncEntryExists",
    "DncEntryNotFound",
    "InvalidPhoneNumber",
    "InvalidStreamToken",
    "MessageNotFound",
    "NoCallerId",
    "NumberNotOnCarrierAccount",
    "NumberOnDncList",
    "PhoneNumberNotFound",
    "PhoneNumberNotVoiceEnabled",
    "PhoneNumberTaken",
    "ScheduleInvalidCron",
    "ScheduleNotFound",
    "ScheduleStatusConflict",
    "ScheduleTimeInPast",
    "ScheduleTimezoneUnknown",
]


class CallsErrorCode(StrEnum):
    """Every error code of the calls app (``error.code`` in API responses)."""

    INVALID_PHONE_NUMBER = "invalid_phone_number"
    PHONE_NUMBER_NOT_FOUND = "phone_number_not_found"
    PHONE_NUMBER_TAKEN = "phone_number_taken"
    NUMBER_NOT_ON_CARRIER_ACCOUNT = "number_not_on_carrier_account"
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
    BATCH_NOT_FOUND = "batch_not_found"
    BATCH_NOT_EDITABLE = "batch_not_editable"
    BATCH_NOT_DELETABLE = "batch_not_deletable"
    BATCH_EMPTY = "batch_empty"
    BATCH_SOURCE_TOO_LARGE = "batch_source_too_large"
    BATCH_SOURCE_UNREADABLE = "batch_source_unreadable"
    BATCH_SOURCE_REFUSED = "batch_source_refused"
    BATCH_SOURCE_UNAVAILABLE = "batch_source_unavailable"
    DNC_ENTRY_NOT_FOUND = "dnc_entry_not_found"
    DNC_ENTRY_EXISTS = "dnc_entry_exists"
    NUMBER_ON_DNC_LIST = "number_on_dnc_list"
    BATCH_STATUS_CONFLICT = "batch_status_conflict"
    # Why a call ended as failed on our side (``Call.error_code``, next to carriers' codes).
    INVALID_START_FRAME = "invalid_start_frame"
    BRIDGE_ERROR = "bridge_error"
    SERVER_SHUTDOWN = "server_shutdown"
    STALE_CALL = "stale_call"
    AI_PROVIDER_NOT_CONFIGURED = "ai_provider_not_configured"
    PHONE_NUMBER_NOT_VOICE_ENABLED = "phone_number_not_voice_enabled"
    SCHEDULE_NOT_FOUND = "schedule_not_found"
    SCHEDULE_STATUS_CONFLICT = "schedule_status_conflict"
    SCHEDULE_TIME_IN_PAST = "schedule_time_in_past"
    INVALID_CRON_EXPRESSION = "invalid_cron_expression"
    UNKNOWN_TIMEZONE = "unknown_timezone"


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


class NumberNotOnCarrierAccount(ValidationFailed):
    """The organization's own carrier account has no such number (checked when it has one)."""

    code = CallsErrorCode.NUMBER_NOT_ON_CARRIER_ACCOUNT
    default_message = "This number is not on the organization's carrier account."


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


class AIProviderNotConfigured(ApplicationError):
    """The agent's realtime model provider has no API key: its calls could not talk."""

    code = CallsErrorCode.AI_PROVIDER_NOT_CONFIGURED
    status = 503
    default_message = "The agent's AI provider is not configured on the platform."


class PhoneNumberNotVoiceEnabled(Conflict):
    """One of our numbers, but not one calls may come from (voice is off on it)."""

    code = CallsErrorCode.PHONE_NUMBER_NOT_VOICE_ENABLED
    default_message = "This number is not enabled for voice calls."


class CarrierRequestFailed(ApplicationError):
    """The carrier refused or could not be reached; details keep its code and message."""

    code = CallsErrorCode.CARRIER_ERROR
    status = 502
    default_message = "The telephony carrier refused the request."


class InvalidStreamToken(ApplicationError):
    code = CallsErrorCode.INVALID_STREAM_TOKEN
    status = 403
    default_message = "This media stream token is invalid, expired or already used."


# --- batches and the do-not-call list ------------------------------------------------------------


class BatchNotFound(NotFound):
    code = CallsErrorCode.BATCH_NOT_FOUND
    default_message = "Batch not found."


class BatchNotEditable(Conflict):
    """Settings change only while a batch is a draft or paused; details name the status."""

    code = CallsErrorCode.BATCH_NOT_EDITABLE
    default_message = "A batch's settings can be changed only while it is a draft or paused."


class BatchNotDeletable(Conflict):
    code = CallsErrorCode.BATCH_NOT_DELETABLE
    default_message = (
        "A running or paused batch, or one with calls in flight, cannot be deleted: "
        "cancel it first and wait for its calls to end."
    )


class BatchEmpty(ValidationFailed):
    code = CallsErrorCode.BATCH_EMPTY
    default_message = "The input has no rows to call."


class BatchSourceTooLarge(ApplicationError):
    """The input is over BATCH_MAX_FILE_BYTES; details carry the limit."""

    code = CallsErrorCode.BATCH_SOURCE_TOO_LARGE
    status = 413
    default_message = "The batch's input is larger than this server accepts."


class BatchSourceUnreadable(ValidationFailed):
    """The input as a whole cannot be read (its encoding, its JSON, its header). A single
    broken line is not this: it becomes an invalid row with its line number."""

    code = CallsErrorCode.BATCH_SOURCE_UNREADABLE
    default_message = "The batch's input cannot be read."


class BatchSourceRefused(ValidationFailed):
    """A ``file_url`` this server will not fetch: not https or s3, a private, loopback or
    link-local address, S3 not configured, a bucket or key it may not read."""

    code = CallsErrorCode.BATCH_SOURCE_REFUSED
    default_message = "This file_url is not allowed."


class BatchSourceUnavailable(ValidationFailed):
    """The ``file_url`` could not be fetched (connection, TLS, an HTTP or S3 error)."""

    code = CallsErrorCode.BATCH_SOURCE_UNAVAILABLE
    default_message = "The file_url could not be fetched."


class DncEntryNotFound(NotFound):
    code = CallsErrorCode.DNC_ENTRY_NOT_FOUND
    default_message = "Do-not-call entry not found."


class DncEntryExists(Conflict):
    code = CallsErrorCode.DNC_ENTRY_EXISTS
    default_message = "This number is already on the do-not-call list."


class NumberOnDncList(Conflict):
    code = CallsErrorCode.NUMBER_ON_DNC_LIST
    default_message = (
        "This number is on the organization's do-not-call list: it is never dialed. Remove "
        "it from the list (/api/v1/dnc/) if the person asked to be called again."
    )


class BatchStatusConflict(Conflict):
    """A control action the batch's status does not allow (starting a running batch,
    resuming a canceled one); details name the action and the status."""

    code = CallsErrorCode.BATCH_STATUS_CONFLICT
    default_message = "The batch's status does not allow this action."


# --- schedules ------------------------------------------------------------------------------------


class ScheduleNotFound(NotFound):
    code = CallsErrorCode.SCHEDULE_NOT_FOUND
    default_message = "Schedule not found."


class ScheduleStatusConflict(Conflict):
    """An action the schedule's status does not allow (resuming an active schedule, changing
    a canceled one); details name the action and the status."""

    code = CallsErrorCode.SCHEDULE_STATUS_CONFLICT
    default_message = "The schedule's status does not allow this action."


class ScheduleTimeInPast(ValidationFailed):
    code = CallsErrorCode.SCHEDULE_TIME_IN_PAST
    default_message = "The scheduled time is in the past."


class ScheduleInvalidCron(ValidationFailed):
    """Details name the request field (``cron_expression``) and, in the message, the cron
    field (minute, hour...) and its problem."""

    code = CallsErrorCode.INVALID_CRON_EXPRESSION
    default_message = "This is not a valid cron expression."


class ScheduleTimezoneUnknown(ValidationFailed):
    code = CallsErrorCode.UNKNOWN_TIMEZONE
    default_message = "This is not an IANA time zone name (for example America/New_York)."
