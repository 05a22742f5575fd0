"""``python -m streaming_fargate``: run the voice gateway from the environment until SIGTERM drains it.

See :mod:`streaming_fargate.settings` for the variables (host, port, drain time, secrets).
"""

from __future__ import annotations

import asyncio
import os
import sys

from callingbox.core.observability import SERVICE_VARIABLE, service_name

from .server import Gateway, tune_runtime
from .settings import GatewaySettings, MissingSecret


def main() -> int:
    """Serve until SIGTERM or SIGINT; returns the exit status."""
    # Powertools' service for what this process publishes without naming one (the CallStatus
    # counts of the status writes the gateway makes), as infra sets it on each Lambda function.
    os.environ.setdefault(SERVICE_VARIABLE, service_name("gateway"))
    try:
        settings = GatewaySettings.from_env()
    except (MissingSecret, ValueError) as error:
        print(f"streaming_fargate: {error}", file=sys.stderr)
        return 2
    gateway = Gateway(settings)
    tune_runtime()
    asyncio.run(gateway.serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
