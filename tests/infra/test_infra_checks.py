"""What the synthesized app must pass as a whole: cdk-nag, cfn-lint, no Docker at synthesis, and
Lambda bundles that carry the core and nothing of the voice side."""

from __future__ import annotations

import email.parser
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="the infra extra is not installed")

from packaging.requirements import Requirement  # noqa: E402
from packaging.utils import canonicalize_name  # noqa: E402

from infra.bundles import (  # noqa: E402
    API_EXCLUDED,
    LAMBDA_PYTHON,
    POWERTOOLS_UTILITIES_KEPT,
    RUNTIME_PROVIDED,
    TWILIO_ASYNC_ONLY,
    VOICE_MODULES,
)
from infra.nag import acknowledgments  # noqa: E402
from infra.synthesis import api_bundle  # noqa: E402
from tests.infra.template_queries import of_type  # noqa: E402

# -- cdk-nag, cfn-lint, Docker --------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["synthesis", "domain_synthesis"])
def test_cdk_nag_finds_nothing_unacknowledged(variant: str, request: pytest.FixtureRequest) -> None:
    synthesis = request.getfixturevalue(variant)
    # An unacknowledged error fails app.synth() (the fixture would have raised); warnings would
    # still be in the report, so it must hold no violation at all.
    report = synthesis.validation_report
    assert report is not None, "cdk-nag did not run"
    assert all(not plugin.get("violations") for plugin in report["pluginReports"]), report


def test_every_acknowledgment_is_justified(synthesis: Any) -> None:
    ours = {(rule, reason) for _, rule, reason in acknowledgments(synthesis.template)
            if rule.startswith("AwsSolutions-")}
    assert ours, "expected the documented acknowledgments"
    for rule, reason in ours:
        assert len(reason) >= 40, f"{rule}: the reason must say why: {reason!r}"


@pytest.mark.parametrize("variant", ["synthesis", "domain_synthesis"])
def test_cfn_lint_passes(variant: str, request: pytest.FixtureRequest) -> None:
    from cfnlint.api import lint_file

    synthesis = request.getfixturevalue(variant)
    matches = lint_file(synthesis.outdir / "CallingBox.template.json")
    assert not matches, "\n".join(str(match) for match in matches)


def test_synthesis_runs_no_docker_and_stages_only_the_gateways_context(synthesis: Any) -> None:
    assert synthesis.docker_calls == ()
    staged_assets = [path for path in synthesis.outdir.glob("asset.*") if path.is_dir()]
    images = [path.name for path in staged_assets if (path / "streaming_fargate" / "Dockerfile").is_file()]
    assert len(images) == 1
    staged = synthesis.outdir / images[0]
    assert sorted(path.name for path in staged.iterdir()) == ["README.md", "callingbox", "pyproject.toml",
                                                              "streaming_fargate"]
    assert (staged / "streaming_fargate" / "server.py").is_file() and (staged / "callingbox" / "core").is_dir()
    assert not list(staged.rglob("__pycache__"))


# -- the Lambda bundles ---------------------------------------------------------------------------

def _top_level(names: list[str]) -> set[str]:
    return {name.split("/")[0].removesuffix(".py") for name in names}


def _distributions(files: dict[str, bytes]) -> dict[str, Any]:
    """Bundled distributions' METADATA, by canonical name."""
    parsed = {}
    for name, content in files.items():
        if name.endswith(".dist-info/METADATA"):
            metadata = email.parser.BytesParser().parsebytes(content)
            parsed[canonicalize_name(metadata["Name"])] = metadata
    return parsed


def _assert_self_contained(files: dict[str, bytes]) -> None:
    """Every requirement of every bundled distribution is bundled, provided by the Lambda runtime,
    or deliberately left out (Twilio's async client only)."""
    environment = {"python_version": LAMBDA_PYTHON, "python_full_version": f"{LAMBDA_PYTHON}.0",
                   "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
                   "implementation_name": "cpython", "platform_python_implementation": "CPython",
                   "os_name": "posix", "extra": ""}
    bundled = _distributions(files)
    allowed_missing = {canonicalize_name(name) for name in RUNTIME_PROVIDED | TWILIO_ASYNC_ONLY}
    for name, metadata in bundled.items():
        for text in metadata.get_all("Requires-Dist") or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
            dependency = canonicalize_name(requirement.name)
            assert dependency in bundled or dependency in allowed_missing, f"{name} needs {dependency}"


@pytest.fixture(scope="module")
def api_files(synthesis: Any) -> dict[str, bytes]:
    with zipfile.ZipFile(api_bundle(synthesis)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}


def test_api_bundle_is_the_chalice_app_with_the_core_and_no_voice_dependencies(api_files: dict[str, bytes]) -> None:
    names = list(api_files)
    assert {"app.py", "chalice/app.py", "chalicelib/routing.py", "callingbox/core/resources.py"} <= set(names)
    top = _top_level(names)
    assert not top & set(VOICE_MODULES), top & set(VOICE_MODULES)
    assert not top & {"boto3", "botocore", "aiohttp", "moto"}
    assert not any(name.startswith("callingbox/local/") for name in names)
    assert not any(name.startswith("twilio/rest/") for name in names), "the adapter does not use twilio.rest"
    assert {"twilio/base/client_base.py", "twilio/http/http_client.py", "twilio/request_validator.py",
            "twilio/twiml/voice_response.py", "callingbox/core/carrier/twilio_rest.py"} <= set(names)
    # Of Powertools the API keeps what Logger and Metrics load; the workers' utilities stay out.
    assert "aws_lambda_powertools/logging/logger.py" in names and "aws_lambda_powertools/metrics/metrics.py" in names
    assert not any(name.startswith(f"{excluded}/") for name in names for excluded in API_EXCLUDED)
    assert any(name.endswith(f"cpython-{LAMBDA_PYTHON.replace('.', '')}-x86_64-linux-gnu.so") for name in names)
    _assert_self_contained(api_files)


def test_workers_bundle_holds_the_workers_the_core_and_the_same_dependencies(synthesis: Any) -> None:
    resources = synthesis.template["Resources"]
    functions = of_type(resources, "AWS::Lambda::Function").values()
    keys = {function["Properties"]["Code"]["S3Key"] for function in functions}
    assert len(keys) == 1, "the four workers share one asset"
    directory = synthesis.outdir / f"asset.{keys.pop().removesuffix('.zip')}"
    files = {str(path.relative_to(directory)): path.read_bytes() if path.name == "METADATA" else b""
             for path in directory.rglob("*") if path.is_file()}
    assert (directory / "workers").is_dir() and (directory / "callingbox" / "core").is_dir()
    assert not _top_level(list(files)) & set(VOICE_MODULES)
    assert not (directory / "chalice").exists() and not (directory / "callingbox" / "local").exists()
    assert not (directory / "twilio" / "rest").exists()
    utilities = directory / "aws_lambda_powertools" / "utilities"
    assert {path.name for path in utilities.iterdir() if path.is_dir()} == set(POWERTOOLS_UTILITIES_KEPT)
    _assert_self_contained(files)


def test_the_twilio_parts_the_functions_use_need_neither_aiohttp_nor_twilio_rest() -> None:
    """What the bundle's pruning relies on, checked against the same Twilio release in this venv (the
    bundles themselves are run in tests/infra/test_bundles_run.py)."""
    script = """
import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        parts = name.split(".")
        if parts[0] in {"aiohttp", "aiohttp_retry"} or parts[:2] == ["twilio", "rest"]:
            raise ImportError(f"pruned from the Lambda bundle: {name}")
sys.meta_path.insert(0, Refuse())
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse, Connect
from callingbox.core.carrier.twilio import TwilioCarrier
from callingbox.core.carrier.twilio_rest import rest_exception
TwilioCarrier("AC" + "0" * 32, "token")
TwilioCarrier("AC" + "0" * 32, "token", api_base_url="http://127.0.0.1:9")
import twilio.base.deserialize, twilio.base.exceptions
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_bundles_are_staged_outside_the_sources() -> None:
    from infra.bundles import BUILD_DIR, ROOT

    assert BUILD_DIR.is_relative_to(ROOT / "build")
    ignored = subprocess.run(["git", "check-ignore", "-q", str(BUILD_DIR / "api")], cwd=ROOT, check=False)
    assert ignored.returncode == 0, "build/ must stay git-ignored"
    assert Path(ROOT / "cdk.json").is_file()
