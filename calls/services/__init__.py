"""Writes for telephony (the product's PhoneService and CallService), one module per concept:
numbers and their routing rules, the call's timeline and state, outbound calls and live-call
actions, answering carrier calls, carrier callbacks and recordings, SMS, the media
bridge's records, batches (their rows, control actions and the dispatcher), and schedules
(one-time and recurring calls and batches, their dispatcher).

Every function runs in the active tenant schema (the API, a webhook's ``tenant_activated``
block or a Celery task selected it). Status changes go through ``calls.lifecycle``; every
webhook and every state change is written to the call's timeline (CallEvent), by name, never
by signals. Carrier requests are never made inside a transaction that could roll back:
outbound dialing is a Celery task sent on commit, by name (services never import tasks).
"""

from calls.services.analysis import SENTIMENTS, analysis_response_schema, call_analyze
from calls.services.answering import (
    BUSY_MESSAGE,
    CALL_ENDED_MESSAGE,
    UNKNOWN_NUMBER_MESSAGE,
    call_forward_answer,
    call_inbound_answer,
    call_message_answer,
    call_outbound_answer,
)
from calls.services.batch_control import (
    batch_cancel,
    batch_pause,
    batch_resume,
    batch_retry_failed,
    batch_start,
)
from calls.services.batch_dispatch import BatchDispatchResult, batch_dispatch, batches_dispatch_due
from calls.services.batch_import import (
    BatchSource,
    ImportProgress,
    RowsSource,
    UploadSource,
    UrlSource,
    batch_create,
)
from calls.services.batch_rows import (
    batch_progress_group,
    batch_row_call_ended,
    batch_row_outcome_for_call,
    batch_row_transition,
    batch_rows_transition,
    batch_slot_freed_on_commit,
)
from calls.services.batches import (
    BATCH_SETTINGS_FIELDS,
    RETRYABLE_OUTCOMES,
    batch_delete,
    batch_settings_clean,
    batch_update,
)
from calls.services.bridge_records import call_prompt_variables_missing_record, call_records_write
from calls.services.callbacks import call_recording_store, call_status_callback
from calls.services.dnc import (
    DncImportProblem,
    DncImportResult,
    dnc_entry_create,
    dnc_entry_delete,
    dnc_entry_update,
    dnc_import,
    dnc_number_clean,
)
from calls.services.outbound import (
    CallSetup,
    call_dial_check,
    call_end,
    call_initiate,
    call_place,
    call_say_and_hangup,
    call_setup_prepare,
    call_transfer,
)
from calls.services.phone_numbers import (
    PhoneNumberImportResult,
    phone_number_create,
    phone_number_delete,
    phone_number_import,
    phone_number_update,
    routing_rule_clean,
    routing_rules_replace,
)
from calls.services.schedule_dispatch import scheduled_calls_place, schedules_dispatch_due
from calls.services.schedule_runs import scheduled_run_call_ended, scheduled_runs_repair
from calls.services.schedules import (
    SchedulePreview,
    schedule_call,
    schedule_cancel,
    schedule_next_runs,
    schedule_pause,
    schedule_preview,
    schedule_recurring,
    schedule_resume,
    schedule_run_now,
    schedule_update,
)
from calls.services.sms import SMS_MAX_LENGTH, message_receive, message_send
from calls.services.stale_calls import StaleCallOutcome, call_stale_reconcile
from calls.services.timeline import call_finalize, call_mark_in_progress
from calls.services.webhook_events import (
    CALL_ANALYZE_TASK,
    batch_completed_announce,
    batch_progress_announce,
    call_ended_announce,
    call_ended_send,
    call_started_announce,
    schedule_run_announce,
    schedule_run_announce_on_commit,
)

__all__ = [
    "BATCH_SETTINGS_FIELDS",
    "BUSY_MESSAGE",
    "CALL_ANALYZE_TASK",
    "CALL_ENDED_MESSAGE",
    "RETRYABLE_OUTCOMES",
    "SMS_MAX_LENGTH",
    "UNKNOWN_NUMBER_MESSAGE",
    "BatchDispatchResult",
    "BatchSource",
    "CallSetup",
    "DncImportProblem",
    "DncImportResult",
    "ImportProgress",
    "PhoneNumberImportResult",
    "RowsSource",
    "SchedulePreview",
    "StaleCallOutcome",
    "UploadSource",
    "UrlSource",
    "batch_cancel",
    "batch_completed_announce",
    "batch_create",
    "batch_delete",
    "batch_dispatch",
    "batch_pause",
    "batch_progress_announce",
    "batch_progress_group",
    "batch_resume",
    "batch_retry_failed",
    "batch_row_call_ended",
    "batch_row_outcome_for_call",
    "batch_row_transition",
    "batch_rows_transition",
    "batch_settings_clean",
    "batch_slot_freed_on_commit",
    "batch_start",
    "batch_update",
    "batches_dispatch_due",
    "call_dial_check",
    "call_end",
    "call_ended_announce",
    "call_ended_send",
    "call_finalize",
    "call_forward_answer",
    "call_inbound_answer",
    "call_initiate",
    "call_mark_in_progress",
    "call_message_answer",
    "call_outbound_answer",
    "call_place",
    "call_prompt_variables_missing_record",
    "call_recording_store",
    "call_records_write",
    "call_say_and_hangup",
    "call_setup_prepare",
    "call_stale_reconcile",
    "call_started_announce",
    "call_status_callback",
    "call_transfer",
    "dnc_entry_create",
    "dnc_entry_delete",
    "dnc_entry_update",
    "dnc_import",
    "dnc_number_clean",
    "message_receive",
    "message_send",
    "phone_number_create",
    "phone_number_delete",
    "phone_number_import",
    "phone_number_update",
    "routing_rule_clean",
    "routing_rules_replace",
    "schedule_call",
    "schedule_cancel",
    "schedule_next_runs",
    "schedule_pause",
    "schedule_preview",
    "schedule_recurring",
    "schedule_resume",
    "schedule_run_announce",
    "schedule_run_announce_on_commit",
    "schedule_run_now",
    "schedule_update",
    "scheduled_run_call_ended",
    "scheduled_runs_repair",
    "scheduled_calls_place",
    "schedules_dispatch_due",
    "SENTIMENTS",
    "analysis_response_schema",
    "call_analyze",
]
