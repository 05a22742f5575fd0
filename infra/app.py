"""The CDK app: ``cdk deploy`` runs ``python3 -m infra.app`` (see ``cdk.json``).

``build_app()`` is also what the tests and the ``infra_synth`` benchmark synthesize. Context
values come from ``cdk.json``, then ``cdk … -c key=value`` (see :mod:`infra.config`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Optional

import aws_cdk as cdk

from .bundles import BUILD_DIR, ROOT, stage_bundles
from .config import DeployConfig
from .nag import enable_checks
from .stack import STACK_NAME, CallingBoxStack

__all__ = ["build_app", "main", "CDK_JSON"]

CDK_JSON = ROOT / "cdk.json"


def build_app(*, context: Optional[Mapping[str, Any]] = None, outdir: Optional[str] = None,
              build_dir: Path = BUILD_DIR) -> tuple[cdk.App, CallingBoxStack]:
    """The app with the CallingBox stack and the cdk-nag checks, not synthesized yet.

    ``context`` adds to (and overrides) ``cdk.json``'s context; the CDK CLI's ``-c`` values
    override both. Stages the Lambda bundles under ``build_dir`` (the first time, pip resolves the
    Lambda dependencies from the package index).
    """
    defaults = json.loads(CDK_JSON.read_text()).get("context", {})
    app = cdk.App(context={**defaults, **(context or {})}, outdir=outdir)
    config = DeployConfig.from_context(app)
    account = config.account or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = config.region or os.environ.get("CDK_DEFAULT_REGION")
    stack = CallingBoxStack(
        app, STACK_NAME,
        config=config.model_copy(update={"region": region}),
        bundles=stage_bundles(build_dir=build_dir),
        scratch_dir=Path(app.outdir) / "chalice-build",
        build_context=ROOT,
        env=cdk.Environment(account=account, region=region) if account or region else None,
    )
    enable_checks(app)
    return app, stack


def main() -> None:
    """Synthesize into the CLI's output directory (``cdk.out``)."""
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
