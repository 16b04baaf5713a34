"""The call state machine in ``calls.lifecycle``: pure functions, no database."""

from __future__ import annotations

import itertools

import pytest

from calls.lifecycle import (
    can_transition,
    end_reason_refines,
    is_final,
    status_for_end_reason,
)
from calls.models import CallStatus, EndReason

FINAL = [
    CallStatus.COMPLETED,
    CallStatus.BUSY,
    CallStatus.NO_ANSWER,
    CallStatus.CANCELED,
    CallStatus.FAILED,
]
# The stages a call goes through, in order; every final status is the last stage.
STAGES = [CallStatus.QUEUED, CallStatus.RINGING, CallStatus.IN_PROGRESS]
# End reasons of an answered call that ended normally.
COMPLETED_REASONS = [
    EndReason.COMPLETED,
    EndReason.CALLER_HANGUP,
    EndReason.AGENT_HANGUP,
    EndReason.MAX_DURATION,
    EndReason.TRANSFERRED,
    EndReason.VOICEMAIL,
]


# --- is_final ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", FINAL)
def test_every_outcome_status_is_final(status):
    assert is_final(status)


@pytest.mark.parametrize("status", STAGES)
def test_the_stages_before_an_outcome_are_not_final(status):
    assert not is_final(status)


def test_every_status_is_either_a_stage_or_final():
    assert set(STAGES) | set(FINAL) == set(CallStatus)
    assert not set(STAGES) & set(FINAL)


def test_is_final_takes_the_stored_string_value():
    assert is_final("no_answer")
    assert not is_final("in_progress")


def test_is_final_refuses_an_unknown_status():
    with pytest.raises(ValueError):
        is_final("on_hold")


# --- can_transition: the rank rule ------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (CallStatus.QUEUED, CallStatus.RINGING),
        (CallStatus.QUEUED, CallStatus.IN_PROGRESS),
        (CallStatus.RINGING, CallStatus.IN_PROGRESS),
    ],
)
def test_a_call_moves_forward_through_the_stages(current, new):
    assert can_transition(current, new)


@pytest.mark.parametrize("current", STAGES)
@pytest.mark.parametrize("new", FINAL)
def test_any_stage_may_end_in_any_outcome(current, new):
    assert can_transition(current, new)


@pytest.mark.parametrize("status", list(CallStatus))
def test_a_repeat_of_the_current_status_is_a_no_op(status):
    assert not can_transition(status, status)


def test_a_late_ringing_after_in_progress_is_refused():
    assert not can_transition(CallStatus.IN_PROGRESS, CallStatus.RINGING)


def test_a_call_never_goes_back_to_queued():
    assert not can_transition(CallStatus.RINGING, CallStatus.QUEUED)
    assert not can_transition(CallStatus.IN_PROGRESS, CallStatus.QUEUED)


@pytest.mark.parametrize("current", FINAL)
def test_nothing_leaves_a_final_status(current):
    # Not even another outcome: a "completed" after "busy" is a late callback, not news.
    assert [new for new in CallStatus if can_transition(current, new)] == []


def test_transitions_are_forward_only_over_every_pair():
    rank = {
        status: STAGES.index(status) if status in STAGES else len(STAGES) for status in CallStatus
    }
    for current, new in itertools.product(CallStatus, repeat=2):
        assert can_transition(current, new) == (rank[new] > rank[current]), (current, new)


def test_can_transition_takes_the_stored_string_values():
    assert can_transition("queued", "in_progress")
    assert not can_transition("completed", "in_progress")


def test_can_transition_refuses_an_unknown_status():
    with pytest.raises(ValueError):
        can_transition(CallStatus.QUEUED, "on_hold")
    with pytest.raises(ValueError):
        can_transition("on_hold", CallStatus.QUEUED)


# --- status_for_end_reason --------------------------------------------------------------------


@pytest.mark.parametrize("reason", list(EndReason))
def test_every_end_reason_maps_to_a_final_status(reason):
    assert is_final(status_for_end_reason(reason))


@pytest.mark.parametrize("reason", COMPLETED_REASONS)
def test_a_normal_ending_of_an_answered_call_is_completed(reason):
    assert status_for_end_reason(reason) == CallStatus.COMPLETED


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        (EndReason.NO_ANSWER, CallStatus.NO_ANSWER),
        (EndReason.BUSY, CallStatus.BUSY),
        (EndReason.FAILED, CallStatus.FAILED),
        (EndReason.CANCELED, CallStatus.CANCELED),
    ],
)
def test_an_unanswered_or_failed_call_keeps_its_own_status(reason, status):
    assert status_for_end_reason(reason) == status


def test_every_end_reason_is_covered_by_these_tests():
    unanswered = {EndReason.NO_ANSWER, EndReason.BUSY, EndReason.FAILED, EndReason.CANCELED}
    assert set(COMPLETED_REASONS) | unanswered == set(EndReason)


def test_status_for_end_reason_takes_the_stored_string_value():
    assert status_for_end_reason("caller_hangup") == CallStatus.COMPLETED


def test_status_for_end_reason_refuses_an_unknown_reason():
    with pytest.raises(ValueError):
        status_for_end_reason("alien_abduction")


# --- end_reason_refines -----------------------------------------------------------------------


@pytest.mark.parametrize("new", [r for r in COMPLETED_REASONS if r != EndReason.COMPLETED])
def test_a_specific_reason_refines_a_generic_completed(new):
    assert end_reason_refines(EndReason.COMPLETED, new)


def test_completed_does_not_refine_itself():
    assert not end_reason_refines(EndReason.COMPLETED, EndReason.COMPLETED)


@pytest.mark.parametrize(
    "new", [EndReason.NO_ANSWER, EndReason.BUSY, EndReason.FAILED, EndReason.CANCELED]
)
def test_a_contradicting_reason_does_not_refine_completed(new):
    # An answered call that completed was not busy, unanswered, failed or canceled.
    assert not end_reason_refines(EndReason.COMPLETED, new)


@pytest.mark.parametrize("current", [r for r in EndReason if r != EndReason.COMPLETED])
def test_only_a_generic_completed_can_be_refined(current):
    # Once we know who hung up or why, a later reason never overwrites it.
    assert [new for new in EndReason if end_reason_refines(current, new)] == []


def test_end_reason_refines_takes_the_stored_string_values():
    assert end_reason_refines("completed", "transferred")
    assert not end_reason_refines("transferred", "completed")


def test_a_refined_reason_keeps_the_status_completed():
    for new in COMPLETED_REASONS:
        if end_reason_refines(EndReason.COMPLETED, new):
            assert status_for_end_reason(new) == status_for_end_reason(EndReason.COMPLETED)
