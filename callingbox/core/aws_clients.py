"""Every AWS client of a process, built from one botocore session.

A botocore session loads each service's model (its JSON description, tens of thousands of small
objects) the first time a client of that service is built, and keeps it; a fresh session per client
(``botocore.session.get_session().create_client(...)``, and PynamoDB's default) loads it again: about
60 ms of CPU per client instead of 2, on every cold start, and a heap the collector walks for as
long as the process lives.

botocore does not support building clients from one session on several threads at once, so
building is serialized here; the clients themselves are thread-safe.

Where a library wants a boto3 client (Powertools, the voice engines), :func:`create_boto3_client`
builds it through one boto3 session over the same botocore session: boto3 registers its handlers
on the botocore session it wraps, and a second wrapper would register them twice (S3 clients then
fail to build).

Examples:
    sqs = create_client("sqs", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    dynamodb = create_boto3_client("dynamodb", region_name=settings.region)
    with building() as session:   # for a library that builds its client itself from a session
        ...
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator, Optional

__all__ = ["shared_session", "create_client", "create_boto3_client", "building"]

_lock = threading.RLock()
_session: Optional[Any] = None
_boto3_session: Optional[Any] = None


def shared_session() -> Any:
    """The process's botocore session (built on first use)."""
    global _session
    with _lock:
        if _session is None:
            import botocore.session

            _session = botocore.session.get_session()
        return _session


@contextmanager
def building() -> Iterator[Any]:
    """Hold the right to build clients from the shared session (yielded) for the block."""
    with _lock:
        yield shared_session()


def create_client(service: str, **kwargs: Any) -> Any:
    """A botocore client of ``service`` (``create_client``'s keyword arguments) from the shared session."""
    with building() as session:
        return session.create_client(service, **kwargs)


def create_boto3_client(service: str, **kwargs: Any) -> Any:
    """A boto3 client of ``service`` (``Session.client``'s keyword arguments) over the shared session."""
    global _boto3_session
    with building() as session:
        if _boto3_session is None:
            import boto3

            _boto3_session = boto3.session.Session(botocore_session=session)
        return _boto3_session.client(service, **kwargs)
