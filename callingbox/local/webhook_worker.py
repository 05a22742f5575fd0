"""The webhook delivery worker in the local stack: the shared local SQS poller
(:mod:`callingbox.local.workers`) feeding the emulated ``webhooks`` queue to the same handler the
deployment runs (``functions/workers/webhooks.py``).

Examples:
    worker = start_webhook_worker(settings)
    ...
    worker.stop()
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..core.settings import Settings
from .workers import QueueWorker, lambda_event, load_handler, start_queue_worker

__all__ = ["start_webhook_worker", "sqs_event", "load_webhooks_handler", "BATCH_SIZE"]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
# Messages per handler call; small, as in the deployment (deliveries run one after another).
BATCH_SIZE = 5

sqs_event = lambda_event


def load_webhooks_handler() -> Handler:
    """``handler`` of ``functions/workers/webhooks.py``."""
    return load_handler("webhooks")


def start_webhook_worker(settings: Optional[Settings] = None, *, handler: Optional[Handler] = None) -> QueueWorker:
    """Start polling the webhooks queue in a daemon thread.

    Args:
        settings: The local stack's settings (default: from the environment). The handler's
            worker is installed with them.
        handler: The Lambda handler to feed (default: ``functions/workers/webhooks.py``'s).
    """
    settings = settings or Settings.from_env()
    if handler is None:
        handler = load_webhooks_handler()
        from workers import webhooks  # type: ignore[import-not-found]

        from ..core.delivery import DeliveryWorker

        webhooks.install(DeliveryWorker.from_settings(settings))
    return start_queue_worker(settings.queue_urls["webhooks"], handler, endpoint_url=settings.aws_endpoint_url,
                              region=settings.region, name="webhooks", batch_size=BATCH_SIZE)
