"""Reads for telephony, one module per concept: numbers, routing (which agent answers a call),
the caller id of outbound calls, calls, messages, batches (their rows, progress and report),
the do-not-call list, schedules and their runs, and what the media bridge reads when a stream
connects.

Everything reads the active tenant schema, so another organization's rows are simply absent:
``*_get`` raises the same NotFound for "missing" and "not yours".
"""

from calls.selectors.batches import (
    BATCH_REPORT_ANALYSIS_COLUMNS,
    BATCH_REPORT_COLUMNS,
    FINAL_BATCH_STATUSES,
    BatchProgress,
    batch_event_list,
    batch_get,
    batch_list,
    batch_progress_get,
    batch_report_csv,
    batch_report_header,
    batch_row_list,
    batches_waiting_for_slot,
)
from calls.selectors.bridge import BridgeContext, bridge_context_get
from calls.selectors.caller_id import caller_number_get
from calls.selectors.calls import call_get, call_get_with_timeline, call_list, call_status_get
from calls.selectors.dnc import dnc_entry_get, dnc_entry_list, dnc_numbers_listed
from calls.selectors.messages import message_get, message_list
from calls.selectors.organizations import current_organization
from calls.selectors.phone_numbers import (
    phone_number_get,
    phone_number_get_by_number,
    phone_number_list,
)
from calls.selectors.routing import (
    DEFAULT_FALLBACK_MESSAGE,
    RouteDecision,
    agent_is_available,
    call_route,
    phone_number_agent_get,
    routing_rule_matches,
)
from calls.selectors.schedules import schedule_get, schedule_list, scheduled_run_list
from calls.selectors.webhook_payloads import (
    batch_webhook_payload,
    call_ended_webhook_payload,
    call_webhook_payload,
    schedule_run_webhook_payload,
)

__all__ = [
    "BATCH_REPORT_ANALYSIS_COLUMNS",
    "BATCH_REPORT_COLUMNS",
    "DEFAULT_FALLBACK_MESSAGE",
    "FINAL_BATCH_STATUSES",
    "BatchProgress",
    "BridgeContext",
    "RouteDecision",
    "agent_is_available",
    "batch_event_list",
    "batch_get",
    "batch_list",
    "batch_progress_get",
    "batch_report_csv",
    "batch_report_header",
    "batch_row_list",
    "batch_webhook_payload",
    "batches_waiting_for_slot",
    "bridge_context_get",
    "call_ended_webhook_payload",
    "call_get",
    "call_get_with_timeline",
    "call_list",
    "call_route",
    "call_status_get",
    "call_webhook_payload",
    "caller_number_get",
    "current_organization",
    "dnc_entry_get",
    "dnc_entry_list",
    "dnc_numbers_listed",
    "message_get",
    "message_list",
    "phone_number_agent_get",
    "phone_number_get",
    "phone_number_get_by_number",
    "phone_number_list",
    "routing_rule_matches",
    "schedule_get",
    "schedule_list",
    "schedule_run_webhook_payload",
    "scheduled_run_list",
]
