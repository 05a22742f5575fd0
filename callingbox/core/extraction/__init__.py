"""Post-call extraction: the call's transcript in, its typed ``result`` (with evidence) out.

Layout (Powertools-style: the port, its adapters, the rules, the worker)::

    base.py           the Extractor port, RawExtraction, CallFacts
    exceptions.py     ExtractorError / ExtractorUnavailable / ExtractorOutputError
    types.py          ExtractionJob (the queue message), statuses
    prompt.py         the forced tool {"result", "evidence"} and the prompt (model adapters)
    bedrock.py        Bedrock converse, forced tool          (adapter)
    openai_compat.py  OpenAI-compatible chat completions     (adapter)
    builtin.py        the builtin dialogue's answers, no model (local adapter)
    factory.py        llm_model -> extractor, as the voice gateway routes models
    validation.py     strict result validation, evidence checks
    worker.py         ExtractionWorker: one job, end to end
    idempotency.py    Powertools idempotency on the single table
    reextract.py      POST /v1/calls/{id}/extract

Nothing here is imported by ``import callingbox.core.extraction`` but the names below; adapters
load their clients (botocore, httpx) only when built.
"""

from __future__ import annotations

from .base import CallFacts, Extractor, RawExtraction, Segment
from .exceptions import ExtractorError, ExtractorOutputError, ExtractorUnavailable
from .types import INITIAL_JOB_ID, ExtractionJob

__all__ = [
    "Extractor",
    "RawExtraction",
    "CallFacts",
    "Segment",
    "ExtractorError",
    "ExtractorUnavailable",
    "ExtractorOutputError",
    "ExtractionJob",
    "INITIAL_JOB_ID",
]
