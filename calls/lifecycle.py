"""The call's state machine, as pure functions: which status changes are allowed and what a
final status means for the end reason. ``calls.services`` applies them to rows.

Carriers post callbacks late, twice and out of order (Twilio numbers them for that reason), so
the rule is rank-based rather than a table of edges: a call only moves to a later stage
(queued → ringing → in progress → final), a repeat of the current stage is a no-op, and once
final nothing changes the status again. A "ringing" that arrives after "in-progress", or an
"in-progress" after "completed", is recorded on the timeline and otherwise ignored.
"""

from __future__ import annotations

from calls.models import CallStatus, EndReason

_RANK = {
    CallStatus.QUEUED: 0,
    CallStatus.RINGING: 1,
    CallStatus.IN_PROGRESS: 2,
    CallStatus.COMPLETED: 3,
    CallStatus.BUSY: 3,
    CallStatus.NO_ANSWER: 3,
    CallStatus.CANCELED: 3,
    CallStatus.FAILED: 3,
}
FINAL_RANK = 3

# What each final status says about why the call ended, when nothing more specific is known.
END_REASON_FOR_STATUS = {
    CallStatus.COMPLETED: EndReason.COMPLETED,
    CallStatus.BUSY: EndReason.BUSY,
    CallStatus.NO_ANSWER: EndReason.NO_ANSWER,
    CallStatus.CANCELED: EndReason.CANCELED,
    CallStatus.FAILED: EndReason.FAILED,
}
# End reasons of a call that was answered and then ended normally: its status is "completed".
COMPLETED_REASONS = frozenset(
    {
        EndReason.COMPLETED,
        EndReason.CALLER_HANGUP,
        EndReason.AGENT_HANGUP,
        EndReason.MAX_DURATION,
        EndReason.TRANSFERRED,
        EndReason.VOICEMAIL,
    }
)


def is_final(status: str) -> bool:
    return _RANK[CallStatus(status)] == FINAL_RANK


def can_transition(current: str, new: str) -> bool:
    """Whether ``current`` may become ``new``: forward only, and never out of a final status."""
    return _RANK[CallStatus(new)] > _RANK[CallStatus(current)]


def status_for_end_reason(end_reason: str) -> CallStatus:
    reason = EndReason(end_reason)
    if reason in COMPLETED_REASONS:
        return CallStatus.COMPLETED
    return {
        EndReason.NO_ANSWER: CallStatus.NO_ANSWER,
        EndReason.BUSY: CallStatus.BUSY,
        EndReason.FAILED: CallStatus.FAILED,
        EndReason.CANCELED: CallStatus.CANCELED,
    }[reason]


def end_reason_refines(current: str, new: str) -> bool:
    """Whether ``new`` says more than ``current`` about a finished call without contradicting
    it: the carrier only knows a call "completed", the bridge knows who hung up and why."""
    return current == EndReason.COMPLETED and new in COMPLETED_REASONS and new != current
