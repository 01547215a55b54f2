"""The one state machine of an application: every status change in shinsei is a step of this table.

Intake, amendment, withdrawal, re-verification, claims, assignment and decisions all ask
``advance`` for the next status, so an illegal step is refused the same way (409 naming the current
state) wherever it is attempted. The claim query selects only ``received`` rows and sets
``under_review``: the same step as ``("received", "claim")`` below, done in SQL so that claiming
stays one statement under ``SKIP LOCKED``.
"""

from __future__ import annotations

from typing import Final, Literal, TypeGuard, get_args

from service.problems import StateConflict
from service.submissions.schemas import Status

Action = Literal[
    "claim", "assign", "release", "approve", "reject", "request_correction", "amend", "withdraw", "signature_failed"
]

#: In their usual order (a tuple, so the table below is built the same way in every process).
OPEN_ORDER: Final[tuple[Status, ...]] = ("received", "under_review", "correction_requested", "signature_invalid")
OPEN: Final[frozenset[Status]] = frozenset(OPEN_ORDER)
STATUSES: Final[frozenset[Status]] = frozenset(get_args(Status))
FINAL: Final[frozenset[Status]] = STATUSES - OPEN

#: (current status, action) → next status. A pair that is absent is not allowed.
STEPS: Final[dict[tuple[Status, Action], Status]] = {
    ("received", "claim"): "under_review",
    ("received", "assign"): "under_review",
    ("under_review", "assign"): "under_review",
    ("correction_requested", "assign"): "correction_requested",
    ("signature_invalid", "assign"): "signature_invalid",
    ("under_review", "release"): "received",
    ("correction_requested", "release"): "correction_requested",
    ("signature_invalid", "release"): "signature_invalid",
    ("under_review", "approve"): "approved",
    ("under_review", "reject"): "rejected",
    # A signature found invalid after receipt can only be closed as rejected (never approved).
    ("signature_invalid", "reject"): "rejected",
    ("under_review", "request_correction"): "correction_requested",
    ("correction_requested", "amend"): "received",
    **{(status, "withdraw"): "withdrawn" for status in OPEN_ORDER},
    **{(status, "signature_failed"): "signature_invalid" for status in OPEN_ORDER if status != "signature_invalid"},
}

_HINTS: Final[dict[Action, str]] = {
    "approve": "only an application under review can be approved; claim it first",
    "reject": "only an application under review (or with an invalid signature) can be rejected",
    "request_correction": "only an application under review can be sent back for correction",
    "amend": "only a correction request can be answered with an amendment",
    "withdraw": "a decided or withdrawn application can no longer be withdrawn",
    "claim": "only a received, unassigned application can be claimed",
    "assign": "a decided or withdrawn application is not assigned any more",
    "release": "only an open application can be released",
    "signature_failed": "the application is already closed",
}


def is_status(value: str) -> TypeGuard[Status]:
    """Whether a string (a database column, a query parameter) is one of the statuses: narrows it to ``Status``."""
    return value in STATUSES


def advance(current: str, action: Action) -> Status:
    """The status after ``action``; StateConflict (409, ``current_state``) when the step is not allowed."""
    step = STEPS.get((current, action)) if is_status(current) else None
    if step is None:
        raise StateConflict(
            f"The application is {current}: {_HINTS[action]}.",
            extensions={"current_state": current, "action": action},
        )
    return step


#: What agency staff do; the other steps are the applicant's (amend, withdraw) or the system's.
STAFF_ACTIONS: Final[frozenset[Action]] = frozenset(
    {"claim", "assign", "release", "approve", "reject", "request_correction"}
)


def allowed(current: str, actions: frozenset[Action] = STAFF_ACTIONS) -> list[Action]:
    """The steps the current status allows among ``actions``, for a client to offer only those."""
    return [action for (status, action) in STEPS if status == current and action in actions]
