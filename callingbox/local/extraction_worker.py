"""The extraction worker in the local stack: ``functions/workers/extraction.py`` on the local queue.

Wire-up (in :func:`callingbox.local.stack.start_local_stack`, after the API runtime is installed)::

    from .extraction_worker import start_extraction_worker
    extraction = start_extraction_worker(environment)   # ... and extraction.stop() on shutdown
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from .queue_worker import QueueWorker

__all__ = ["extraction_worker", "start_extraction_worker"]


def _handler_module() -> Any:
    """``functions/workers/extraction.py``, imported as Lambda imports it (``functions/`` on the path)."""
    import sys

    from .stack import project_root

    functions = str(project_root() / "functions")
    if functions not in sys.path:
        sys.path.insert(0, functions)
    import workers.extraction as module  # type: ignore[import-not-found]

    return module


def extraction_worker(environment: Mapping[str, str], *, runtime: Optional[Any] = None) -> QueueWorker:
    """A (not yet started) poller of the extraction queue feeding the Lambda handler.

    ``runtime`` (an ``ExtractionRuntime``) replaces the one built from ``environment``.
    """
    import botocore.session

    from ..core import resources
    from ..core.settings import Settings

    settings = Settings.from_env(environment)
    module = _handler_module()
    module.install(runtime or module.ExtractionRuntime.from_settings(settings))
    sqs = botocore.session.get_session().create_client("sqs", region_name=settings.region,
                                                       endpoint_url=settings.aws_endpoint_url)
    return QueueWorker(sqs, settings.queue_urls["extraction"], module.handler, region=settings.region,
                       name="extraction", timeout_s=resources.QUEUES["extraction"].visibility_timeout_s)


def start_extraction_worker(environment: Mapping[str, str], *, runtime: Optional[Any] = None) -> QueueWorker:
    """Start polling the extraction queue in a background thread; ``.stop()`` ends it."""
    return extraction_worker(environment, runtime=runtime).start()
