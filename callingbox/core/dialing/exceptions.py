"""Errors of the dialer.

    DialerError
    ├── InvalidDialJob     the job body is not {"workspace_id", "call_id"}: it can never succeed;
    │                      it fails until SQS moves it to the dead-letter queue, where it can be read
    └── DialRetryable      the carrier could not take the call right now (429, 5xx, network);
                           the job fails and SQS delivers it again after the visibility timeout
"""

from __future__ import annotations

__all__ = ["DialerError", "InvalidDialJob", "DialRetryable"]


class DialerError(Exception):
    """Base of the dialer's errors."""


class InvalidDialJob(DialerError):
    """The message is not a dial job; fix the producer (see the message in the dead-letter queue)."""


class DialRetryable(DialerError):
    """The dial should be tried again later; SQS redelivers the job (a partial batch failure)."""
