"""Errors of the delivery worker.

    DeliveryError
    ├── InvalidJob           a message that is not a webhooks job: logged and dropped
    ├── AttemptInProgress    another worker holds this attempt's lease: the job is retried later
    └── DestinationRefused   the URL is not allowed (scheme, or resolves to a private,
                             loopback or link-local address): logged as a failed attempt
"""

from __future__ import annotations

__all__ = ["DeliveryError", "InvalidJob", "AttemptInProgress", "DestinationRefused"]


class DeliveryError(Exception):
    """Root of the delivery worker's errors."""


class InvalidJob(DeliveryError):
    """The message body is not a job this worker knows; retrying cannot fix it, so it is dropped."""


class AttemptInProgress(DeliveryError):
    """Another worker is performing this attempt right now. Raised so that SQS hands the job back
    after its visibility timeout, by when the attempt is recorded and the copy is dropped."""


class DestinationRefused(DeliveryError):
    """The destination may not be called: check the URL, or the DNS records of its host."""
