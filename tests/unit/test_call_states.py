"""The call state machine: statuses only move forward."""

from __future__ import annotations

import itertools

import pytest

from callingbox.core.call_states import (
    TERMINAL,
    CallStatus,
    allowed_sources,
    can_transition,
    event_type,
    is_terminal,
)
from callingbox.types.call import CallStatus as PublicCallStatus
from typing import get_args

_ORDER = {
    CallStatus.QUEUED: 0, CallStatus.RINGING: 1, CallStatus.IN_PROGRESS: 2,
    CallStatus.COMPLETED: 3, CallStatus.NO_ANSWER: 3, CallStatus.BUSY: 3, CallStatus.FAILED: 3, CallStatus.CANCELED: 3,
}


def test_the_public_statuses_are_exactly_the_state_machine_statuses() -> None:
    assert {status.value for status in CallStatus} == set(get_args(PublicCallStatus))


@pytest.mark.parametrize("source,target", list(itertools.product(CallStatus, CallStatus)),
                         ids=lambda s: s.value)
def test_every_allowed_move_goes_forward(source: CallStatus, target: CallStatus) -> None:
    if can_transition(source, target):
        assert _ORDER[target] > _ORDER[source]
        assert source in allowed_sources(target)
    else:
        assert source not in allowed_sources(target)


@pytest.mark.parametrize("terminal", sorted(TERMINAL, key=lambda s: s.value), ids=lambda s: s.value)
def test_terminal_statuses_never_change(terminal: CallStatus) -> None:
    assert is_terminal(terminal)
    assert not any(can_transition(terminal, target) for target in CallStatus)


def test_the_happy_path_and_the_unanswered_endings() -> None:
    assert can_transition("queued", "ringing")
    assert can_transition("ringing", "in_progress")
    assert can_transition("in_progress", "completed")
    for ending in ("no_answer", "busy", "failed", "canceled"):
        assert can_transition("ringing", ending)
    # Voicemail is detected after the line is answered.
    assert can_transition("in_progress", "no_answer")


def test_late_and_backward_moves_are_refused() -> None:
    assert not can_transition("in_progress", "ringing")
    assert not can_transition("ringing", "queued")
    assert not can_transition("in_progress", "canceled")
    assert not can_transition("completed", "failed")
    assert not can_transition("queued", "completed")


def test_events_follow_status_changes() -> None:
    assert event_type("ringing") == "call.ringing"
    assert event_type("in_progress") == "call.answered"
    assert event_type("busy") == "call.busy"
    # call.completed is emitted after post-call processing, not on the status write.
    assert event_type("completed") is None
