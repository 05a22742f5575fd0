"""The extraction worker in the local stack: the shared local SQS poller
(:mod:`callingbox.local.workers`) feeding the emulated ``extraction`` queue to the same handler the
deployment runs (``functions/workers/extraction.py``).

Examples:
    worker = start_extraction_worker(environment)
    ...
    worker.stop()
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from .workers import QueueWorker, load_handler, start_queue_worker

__all__ = ["start_extraction_worker"]


def start_extraction_worker(environment: Mapping[str, str], *, runtime: Optional[Any] = None) -> QueueWorker:
    """Start polling the extraction queue in a background thread; ``.stop()`` ends it.

    ``runtime`` (an ``ExtractionRuntime``) replaces the one built from ``environment``.
    """
    from ..core.settings import Settings

    settings = Settings.from_env(environment)
    handler = load_handler("extraction")
    import workers.extraction as module  # type: ignore[import-not-found]

    module.install(runtime or module.ExtractionRuntime.from_settings(settings))
    return start_queue_worker(settings.queue_urls["extraction"], handler, endpoint_url=settings.aws_endpoint_url,
                              region=settings.region, name="extraction")
