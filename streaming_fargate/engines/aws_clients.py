"""Building the boto3 clients the AWS engines use (one recipe, per-service timeouts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from callingbox.core.settings import Settings

__all__ = ["ClientFactory", "aws_client_factory"]

ClientFactory = Callable[[], Any]


def aws_client_factory(service: str, settings: "Settings", *, connect_timeout_s: float, read_timeout_s: float,
                       max_attempts: int) -> ClientFactory:
    """A factory for a ``service`` client in ``settings.region``.

    The local emulation's endpoint is never used: it has no Bedrock and cannot synthesize speech.
    """

    def build() -> Any:
        from botocore.config import Config

        from callingbox.core.aws_clients import create_boto3_client

        config = Config(connect_timeout=connect_timeout_s, read_timeout=read_timeout_s,
                        retries={"max_attempts": max_attempts, "mode": "standard"})
        return create_boto3_client(service, region_name=settings.region, config=config)

    return build
