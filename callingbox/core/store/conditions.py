"""Turning DynamoDB's condition and transaction failures into what they mean for us."""

from __future__ import annotations

from typing import Optional

from pynamodb.exceptions import PynamoDBException, TransactWriteError

__all__ = ["is_condition_failure", "cancellation_codes", "VersionConflict"]


class VersionConflict(Exception):
    """Someone else wrote the item between our read and our write: read again and retry."""


def is_condition_failure(error: PynamoDBException) -> bool:
    """True when a single-item write failed only because its condition did not hold."""
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def cancellation_codes(error: TransactWriteError) -> list[Optional[str]]:
    """One code per transaction item (``None`` where that item was fine), in submission order."""
    reasons = getattr(error, "cancellation_reasons", None) or []
    return [reason.code if reason is not None else None for reason in reasons]


def is_transaction_conflict(error: TransactWriteError) -> bool:
    """True when DynamoDB cancelled the transaction because another one touched the same items."""
    codes = cancellation_codes(error)
    return "TransactionConflict" in codes or getattr(error, "cause_response_code", None) in {
        "TransactionConflictException", "TransactionInProgressException",
    }
