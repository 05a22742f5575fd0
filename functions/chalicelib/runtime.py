"""What a warm Lambda keeps between requests: settings, the bound store, queue, key, S3 and carrier clients.

Built on the first request (not at import, so importing the app stays cheap and reads nothing),
and replaceable by tests and the local stack through :func:`install`.

The API's own public URL (what the carrier is given and signs: ``settings.public_api_url``) is
configured with a custom domain. Without one the deployment cannot name it up front (the API's id
is only known once the API exists, and the function is part of it), so
:meth:`Runtime.settings_for` takes it from API Gateway's request context for each request.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Optional

from callingbox.core.auth import KeyResolver
from callingbox.core.carrier.base import Carrier
from callingbox.core.queues import JobQueues
from callingbox.core.per_process import PerProcess
from callingbox.core.settings import Settings
from callingbox.core.store.binding import bind_store

__all__ = ["Runtime", "current", "install", "public_base_url"]

# A DNS name as API Gateway reports it in ``requestContext.domainName`` (checked anyway: a URL is
# built from it, and a Lambda can also be invoked with an event someone else wrote).
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_STAGE = re.compile(r"[A-Za-z0-9_-]{1,128}")


def public_base_url(context: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The API's public base URL from API Gateway's ``requestContext``, or ``None`` without one.

    ``https://{domainName}/{stage}`` when the request came through the stage's own endpoint
    (``…execute-api….amazonaws.com/<stage>/…``: ``requestContext.path`` starts with the stage);
    ``https://{domainName}`` through a custom domain mapped at its root (the path has no stage).
    API Gateway sets these fields itself; the ``Host`` header, which a caller controls, is never used.
    """
    if not context:
        return None
    domain, stage = context.get("domainName"), context.get("stage")
    if not isinstance(domain, str) or not _HOSTNAME.fullmatch(domain):
        return None
    base = f"https://{domain}"
    path = context.get("path")
    if isinstance(stage, str) and _STAGE.fullmatch(stage) and isinstance(path, str) and \
            (path == f"/{stage}" or path.startswith(f"/{stage}/")):
        return f"{base}/{stage}"
    return base


@dataclass
class Runtime:
    """The per-process dependencies of the API."""

    settings: Settings
    queues: JobQueues
    keys: KeyResolver
    # Builds the carrier on first use (tests and the local stack put their own here).
    carrier_factory: Optional[Callable[[Settings], Carrier]] = None
    _s3: Optional[Any] = field(default=None, init=False, repr=False)
    _s3_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _carrier: Optional[Carrier] = field(default=None, init=False, repr=False)
    _carrier_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def settings_for(self, context: Optional[Mapping[str, Any]]) -> Settings:
        """The settings for one request: ``public_api_url`` from the request context
        (:func:`public_base_url`) when the deployment configures none, else the settings as they are.

        Without either, :func:`~callingbox.core.telephony_urls.public_url` answers 503
        ``public_url_not_configured``, as before.
        """
        if self.settings.public_api_url:
            return self.settings
        base = public_base_url(context)
        return replace(self.settings, public_api_url=base) if base else self.settings

    @classmethod
    def from_settings(cls, settings: Settings) -> "Runtime":
        """Bind the store and build the clients for ``settings``."""
        bind_store(settings)
        return cls(settings=settings, queues=JobQueues(settings), keys=KeyResolver(settings.api_key_cache_seconds))

    def s3(self) -> Any:
        """The S3 client (for presigning recording URLs), built on first use: most requests never need it.

        botocore directly, as in :class:`~callingbox.core.queues.JobQueues`; SigV4 explicitly, the
        only presigning every region accepts.
        """
        with self._s3_lock:
            if self._s3 is None:
                from botocore.config import Config

                from callingbox.core.aws_clients import create_client

                self._s3 = create_client(
                    "s3", region_name=self.settings.region, endpoint_url=self.settings.aws_endpoint_url,
                    config=Config(signature_version="s3v4"),
                )
            return self._s3

    def carrier(self) -> Carrier:
        """The carrier (Twilio, or the local stand-in via ``CALLINGBOX_TWILIO_API_URL``), built on first use.

        Building it imports the Twilio SDK and may read a Secrets Manager secret, so requests
        that never talk to the carrier never pay for it. Raises
        :class:`~callingbox.core.carrier.CarrierNotConfigured` (503 ``carrier_not_configured``)
        when the deployment has no Twilio credentials.
        """
        with self._carrier_lock:
            if self._carrier is None:
                self._carrier = (self.carrier_factory or _carrier_from_settings)(self.settings)
            return self._carrier


def _carrier_from_settings(settings: Settings) -> Carrier:
    from callingbox.core.carrier.credentials import carrier_from_settings

    return carrier_from_settings(settings)


_runtime: PerProcess[Runtime] = PerProcess(lambda: Runtime.from_settings(Settings.from_env()))


def current() -> Runtime:
    """The installed runtime, built from the environment on first use."""
    return _runtime.get()


def install(runtime: Optional[Runtime]) -> None:
    """Replace the runtime (``None`` rebuilds it from the environment on next use)."""
    _runtime.install(runtime)
