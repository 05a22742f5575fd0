"""The CDK app: synthesis time, the API's Lambda bundle, the gateway image's Python dependencies, and
the cdk-nag acknowledgments.

- ``infra.synth_s``: wall time of one synthesis of the app as ``cdk.json`` configures it, in a fresh
  interpreter (what ``cdk synth`` runs: importing the CDK, Chalice packaging, asset staging, the
  cdk-nag checks). The Lambda dependencies are resolved first and outside the timing (pip, once per
  requirement set, then cached under ``build/infra/``); Chalice's package cache is warm after the
  first run, as in day-to-day use.
- ``infra.api_bundle_mb``: unzipped size (10^6 bytes) of the API function's deployment package, the
  very zip the synthesis staged as the ``APIHandler`` asset. Goal: under 15 MB. The largest
  top-level entries are printed.
- ``infra.gateway_deps_mb``: the Python dependencies of the gateway image: ``pip install --target``
  of the base dependencies and the ``voice`` extra (as the Dockerfile's ``pip install ".[voice]"``
  resolves them) for the image's platform (``manylinux2014_x86_64``, the Dockerfile's CPython),
  wheels only, no bytecode; our own package is not counted. Without a package index it falls back
  to the installed distributions of the same closure in this environment (printed as ``method``).
- ``infra.nag_suppressions``: distinct acknowledged AwsSolutions findings (rule and reason); each
  is printed with its reason and the number of resources it covers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter, defaultdict
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from . import Figures, figure

__all__ = ["run", "gateway_requirements", "directory_bytes"]

ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000
TOP = 8


def gateway_requirements(pyproject: Path = ROOT / "pyproject.toml") -> tuple[str, list[str]]:
    """The image's CPython version (from the Dockerfile's base image) and the requirements it installs."""
    import tomllib

    match = re.search(r"^FROM python:(\d+\.\d+)", (ROOT / "streaming_fargate" / "Dockerfile").read_text(), re.M)
    python = match.group(1) if match else "3.11"
    project = tomllib.loads(pyproject.read_text())["project"]
    environment = {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
                   "platform_system": "Linux", "platform_machine": "x86_64", "extra": ""}
    requirements = []
    for text in [*project["dependencies"], *project["optional-dependencies"]["voice"]]:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            requirements.append(str(requirement).split(";")[0].strip())
    return python, requirements


def directory_bytes(directory: Path) -> int:
    """Total size of the files under ``directory``."""
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file() and not path.is_symlink())


def _by_top_level(sizes: dict[str, int]) -> str:
    totals: Counter[str] = Counter()
    for name, size in sizes.items():
        totals[name.split("/")[0]] += size
    return ", ".join(f"{name} {size / MB:.1f}" for name, size in totals.most_common(TOP))


def _gateway_deps_pip(python: str, requirements: list[str]) -> tuple[int, str]:
    with tempfile.TemporaryDirectory(prefix="callingbox-gateway-deps-") as directory:
        target = Path(directory)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-compile", "--target", str(target), "--platform", "manylinux2014_x86_64",
                        "--implementation", "cp", "--python-version", python, "--only-binary=:all:", *requirements],
                       check=True, capture_output=True, text=True)
        sizes = {str(path.relative_to(target)): path.stat().st_size for path in target.rglob("*") if path.is_file()}
        return sum(sizes.values()), _by_top_level(sizes)


def _gateway_deps_installed(requirements: list[str]) -> tuple[int, str]:
    """The installed distributions of the requirements' closure here (no bytecode counted)."""
    seen: set[str] = set()
    pending = [Requirement(text) for text in requirements]
    sizes: dict[str, int] = defaultdict(int)
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for file in distribution.files or ():
            path = Path(distribution.locate_file(file))
            if path.suffix != ".pyc" and path.is_file():
                sizes[str(file).split("/")[0]] += path.stat().st_size
        for text in distribution.requires or ():
            dependency = Requirement(text)
            if dependency.marker is None or dependency.marker.evaluate({"extra": ""}):
                pending.append(dependency)
    return sum(sizes.values()), _by_top_level(dict(sizes))


def run() -> Figures:
    """Synthesize once and measure; see the module docstring."""
    # jsii's notice about this machine's Node release says nothing about the figures.
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from infra.bundles import build_dependencies
    from infra.nag import acknowledgments
    from infra.synthesis import api_bundle, synthesize

    started = time.perf_counter()
    build_dependencies()
    print(f"  Lambda dependencies ready in {time.perf_counter() - started:.1f} s (pip only when not cached)")

    with tempfile.TemporaryDirectory(prefix="callingbox-synth-") as directory:
        synthesis = synthesize(Path(directory), context={"region": "us-east-1"})
        with zipfile.ZipFile(api_bundle(synthesis)) as archive:
            api_sizes = {info.filename: info.file_size for info in archive.infolist()}
        docker_calls = len(synthesis.docker_calls)
        covered: Counter[tuple[str, str]] = Counter(
            (rule, reason) for _, rule, reason in acknowledgments(synthesis.template)
            if rule.startswith("AwsSolutions-"))
    api_bytes = sum(api_sizes.values())
    print(f"  API bundle, largest entries (MB): {_by_top_level(api_sizes)}")
    print(f"  docker invocations during synthesis: {docker_calls}")

    python, requirements = gateway_requirements()
    try:
        gateway_bytes, breakdown = _gateway_deps_pip(python, requirements)
        method = f"pip --target, cp{python.replace('.', '')} manylinux wheels"
    except subprocess.CalledProcessError as error:
        print(f"  pip could not resolve the voice extra ({error.stderr.strip()[-200:]}); using this venv")
        gateway_bytes, breakdown = _gateway_deps_installed(requirements)
        method = "installed distributions in this environment"
    print(f"  gateway dependencies, largest (MB): {breakdown}")

    print(f"  cdk-nag acknowledgments ({len(covered)}):")
    for (rule, reason), resources in sorted(covered.items()):
        print(f"    {rule} [{resources} resource(s)]: {reason}")
    return {
        "infra.synth_s": figure(synthesis.seconds, "s", docker_calls=docker_calls),
        "infra.api_bundle_mb": figure(api_bytes / MB, "MB", files=len(api_sizes), goal="< 15"),
        "infra.gateway_deps_mb": figure(gateway_bytes / MB, "MB", method=method),
        "infra.nag_suppressions": figure(len(covered), "count"),
    }
