"""What a warm Lambda keeps between requests: settings, the bound store, queue, key, S3 and carrier clients.

Built on the first request (not at import, so importing the app stays cheap and reads nothing),
and replaceable by tests and the local stack through :func:`install`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from callingbox.core.auth import KeyResolver
from callingbox.core.carrier.base import Carrier
from callingbox.core.queues import JobQueues
from callingbox.core.settings import Settings
from callingbox.core.store.binding import bind_store

__all__ = ["Runtime", "current", "install"]


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
                import botocore.session
                from botocore.config import Config

                self._s3 = botocore.session.get_session().create_client(
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


_runtime: Optional[Runtime] = None
_lock = threading.Lock()


def current() -> Runtime:
    """The installed runtime, built from the environment on first use."""
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = Runtime.from_settings(Settings.from_env())
    return _runtime


def install(runtime: Optional[Runtime]) -> None:
    """Replace the runtime (``None`` rebuilds it from the environment on next use)."""
    global _runtime
    _runtime = runtime
