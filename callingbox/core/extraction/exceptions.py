"""What can go wrong while extracting, by what the worker should do about it.

    ExtractorError            permanent: the extraction fails with this message
    ├── ExtractorUnavailable  transient: the job is retried (SQS redelivery), then fails
    └── ExtractorOutputError  the engine's answer is unusable: retried once with feedback
"""

from __future__ import annotations

__all__ = ["ExtractorError", "ExtractorUnavailable", "ExtractorOutputError"]


class ExtractorError(RuntimeError):
    """The engine refused the request in a way retrying will not fix (bad model id, no access)."""


class ExtractorUnavailable(ExtractorError):
    """The engine could not answer right now (connection, timeout, throttling, server error)."""


class ExtractorOutputError(ExtractorError):
    """The engine answered, but not with a usable tool call (no call, wrong tool, malformed JSON)."""
