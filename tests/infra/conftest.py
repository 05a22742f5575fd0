"""Synthesized templates for the infra tests: each variant of the app is synthesized once per session.

Skipped as a whole where the CDK libraries are not installed (``pip install -e ".[infra]"``).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

# jsii prints a notice about the machine's Node release on every start; it says nothing about our code.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

if shutil.which("node") is None:  # the CDK's Python library runs its JavaScript core on Node.js
    pytest.skip("Node.js is not installed (the CDK needs it)", allow_module_level=True)
pytest.importorskip("aws_cdk", reason="the infra extra is not installed")
pytest.importorskip("cdk_nag", reason="the infra extra is not installed")

from infra.synthesis import Synthesis, synthesize  # noqa: E402
from tests.infra.variants import DEFAULT_CONTEXT, DOMAIN_CONTEXT  # noqa: E402


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """The app as ``cdk.json`` configures it (no domain: HTTP load balancer, API on its stage URL)."""
    return synthesize(tmp_path_factory.mktemp("cdk-default"), context=DEFAULT_CONTEXT)


@pytest.fixture(scope="session")
def domain_synthesis(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """With a domain and certificate, an inference-profile model and an alarm e-mail."""
    return synthesize(tmp_path_factory.mktemp("cdk-domain"), context=DOMAIN_CONTEXT)


@pytest.fixture(scope="session")
def template(synthesis: Synthesis) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_json(synthesis.template)


@pytest.fixture(scope="session")
def resources(synthesis: Synthesis) -> dict[str, Any]:
    """The default template's resources by logical id."""
    return synthesis.template["Resources"]
