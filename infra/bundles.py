"""The Lambda code bundles: what goes into the API's Chalice package and the workers' asset.

Both bundles hold the same three things: our ``callingbox`` package (the core, without the local
stack), the Lambda side's third-party dependencies, and the handlers (``functions/app.py`` +
``functions/chalicelib`` for the API, ``functions/workers`` for the workers).

Why ``vendor/`` and not ``requirements.txt``: Chalice installs ``requirements.txt`` with every
transitive dependency, which would put botocore (26 MB, already in the Lambda runtime), aiohttp and
all of Twilio's product APIs into the API bundle. Instead we resolve the dependencies ourselves,
once, with pip for Lambda's platform (``manylinux2014_x86_64``, CPython :data:`LAMBDA_PYTHON`, wheels only) into a
cached directory, drop what the functions never load (see :data:`RUNTIME_PROVIDED`,
:data:`TWILIO_ASYNC_ONLY`, :data:`UNUSED_SUBPACKAGES`, :data:`POWERTOOLS_UTILITIES_KEPT`), and hand the
result to Chalice as its ``vendor/`` directory, which Chalice copies into the package verbatim, less
what only the workers load (:data:`API_EXCLUDED`). Our own package goes into ``vendor/`` too, so the
bundle is self-contained and needs no local-path requirement.

The API bundle has a size goal (``infra.api_bundle_mb``: under 15 MB unzipped, so cold starts stay
small), which is why the pruning goes as far as it does: ``twilio/rest`` (Twilio's generated REST
resources, 4 MB even for the one domain we call) is not bundled at all: the carrier adapter issues
its few requests through the SDK's transport (:mod:`callingbox.core.carrier.twilio_rest`); and of
Powertools the API keeps only what Logger and Metrics import.

The dependency list is the ``server`` extra of ``pyproject.toml`` plus the base dependencies: the
one place it is written. The resolved directory is cached under ``build/infra/lambda-deps/<hash>``
(keyed by that list and the pruning rules), so only the first synthesis needs the package index.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = [
    "ROOT",
    "BUILD_DIR",
    "LAMBDA_PYTHON",
    "LAMBDA_PLATFORM",
    "RUNTIME_PROVIDED",
    "TWILIO_ASYNC_ONLY",
    "UNUSED_SUBPACKAGES",
    "POWERTOOLS_UTILITIES_KEPT",
    "API_EXCLUDED",
    "VOICE_MODULES",
    "LambdaBundles",
    "lambda_requirements",
    "build_dependencies",
    "stage_bundles",
]

ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = ROOT / "build" / "infra"  # build/ is git-ignored
FUNCTIONS_DIR = ROOT / "functions"
PACKAGE_DIR = ROOT / "callingbox"

# The Lambda runtime the bundles are built for. Not the interpreter running the synthesis: the
# wheels are fetched for this version, and the API function's runtime is set to it after Chalice
# (which would otherwise pick the local interpreter's). 3.11 is past its Lambda deprecation date.
LAMBDA_PYTHON = "3.12"
LAMBDA_PLATFORM = "manylinux2014_x86_64"

# Chalice adds its own runtime (chalice/app.py) to the API package; the workers do not use it.
NOT_BUNDLED = frozenset({"chalice"})
# The Lambda Python runtime ships the AWS SDK and its dependencies (AWS keeps them current); bundling
# them would add ~28 MB. urllib3 (requests' transport) and jmespath (Powertools) are among them.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"})
# Only Twilio's AsyncTwilioHttpClient imports aiohttp; the carrier adapter uses the sync client.
TWILIO_ASYNC_ONLY = frozenset({
    "aiohttp", "aiohttp-retry", "aiohappyeyeballs", "aiosignal", "frozenlist", "multidict", "propcache", "yarl",
})
# Sub-packages the functions never import, relative to the dependency directory. The carrier adapter
# does not use ``twilio.rest`` (see callingbox/core/carrier/twilio_rest.py): of Twilio the functions
# load twilio/base (ClientBase, exceptions, deserialize), twilio/http, twilio/credential and
# twilio/auth_strategy (imported by ClientBase), request_validator and twiml. Powertools'
# event_handler is a router; Chalice routes for us.
UNUSED_SUBPACKAGES = ("twilio/rest", "aws_lambda_powertools/event_handler")
# The Powertools utilities the functions load (every other one under utilities/ is dropped): the
# workers' batch processing (which imports the parser's models when pydantic is installed), SQS
# records (data_classes), idempotency; the Logger's jmespath_utils; typing (LambdaContext).
POWERTOOLS_UTILITIES_KEPT = frozenset({"batch", "data_classes", "idempotency", "jmespath_utils", "parser", "typing"})
# What of the dependencies only the workers load, left out of the API bundle: of Powertools the API
# uses Logger and Metrics only (callingbox/core/observability.py).
API_EXCLUDED = tuple(f"aws_lambda_powertools/utilities/{name}" for name in ("batch", "data_classes", "idempotency",
                                                                            "parser"))
# Our own sub-packages the Lambda side never imports: the local stack (moto, the local carrier).
OWN_EXCLUDED = ("local",)
# Voice-side modules that must never appear in a Lambda bundle (ARCHITECTURE rule 1).
VOICE_MODULES = ("awscrt", "amazon_transcribe", "pocketsphinx", "espeakng_loader", "numpy", "websockets")

# Bump when the pruning rules change, so cached dependency directories are rebuilt.
_PRUNE_VERSION = "2"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


@dataclass(frozen=True)
class LambdaBundles:
    """Where the staged bundles are.

    ``api_project`` is a Chalice project directory (``app.py``, ``chalicelib/``, ``.chalice/``,
    ``vendor/``) for :class:`chalice.cdk.Chalice`; ``workers`` is the workers' asset directory,
    whose handlers are ``workers.<module>.handler``.
    """

    dependencies: Path
    api_project: Path
    workers: Path


def lambda_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The requirements to install into a Lambda bundle: base dependencies + the ``server`` extra,
    minus what Chalice adds itself and what the Lambda runtime provides."""
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["server"]]
    skipped = NOT_BUNDLED | RUNTIME_PROVIDED
    return [text for text in requirements if canonicalize_name(Requirement(text).name) not in skipped]


def _cache_key(requirements: Iterable[str]) -> str:
    payload = json.dumps({"requirements": sorted(requirements), "python": LAMBDA_PYTHON,
                          "platform": LAMBDA_PLATFORM, "prune": _PRUNE_VERSION})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def build_dependencies(*, build_dir: Path = BUILD_DIR, pyproject: Path = ROOT / "pyproject.toml") -> Path:
    """The pruned third-party dependencies for Lambda, built once per requirement set (then cached).

    Runs ``pip install --target`` for Lambda's platform (wheels only, so nothing is compiled here
    and no Docker is needed). Raises :class:`subprocess.CalledProcessError` if pip fails.
    """
    requirements = lambda_requirements(pyproject)
    target = build_dir / "lambda-deps" / _cache_key(requirements)
    if (target / ".complete").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="deps-", dir=target.parent))
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
             "--target", str(scratch), "--platform", LAMBDA_PLATFORM, "--implementation", "cp",
             "--python-version", LAMBDA_PYTHON, "--only-binary=:all:", *requirements],
            check=True,
        )
        _prune(scratch)
        (scratch / ".complete").write_text("\n".join(requirements) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        scratch.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _prune(site: Path) -> None:
    """Remove the distributions and sub-packages the functions never load."""
    unwanted = RUNTIME_PROVIDED | TWILIO_ASYNC_ONLY
    for distribution in metadata.distributions(path=[str(site)]):
        if canonicalize_name(distribution.metadata["Name"]) in unwanted:
            for file in distribution.files or ():
                Path(distribution.locate_file(file)).unlink(missing_ok=True)
    for relative in UNUSED_SUBPACKAGES:
        shutil.rmtree(site / relative, ignore_errors=True)
    for utility in (site / "aws_lambda_powertools" / "utilities").iterdir():
        if utility.is_dir() and utility.name not in POWERTOOLS_UTILITIES_KEPT | {"__pycache__"}:
            shutil.rmtree(utility)
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts
    for directory in sorted((path for path in site.rglob("*") if path.is_dir()), reverse=True):
        if directory.name == "__pycache__" or not any(directory.iterdir()):
            shutil.rmtree(directory, ignore_errors=True)


def _copy_package(destination: Path) -> None:
    """Our ``callingbox`` package without the sub-packages Lambda never imports."""
    excluded = {PACKAGE_DIR / name for name in OWN_EXCLUDED}

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = set(_IGNORED(directory, names))
        return skipped | {name for name in names if Path(directory, name) in excluded}

    shutil.copytree(PACKAGE_DIR, destination / "callingbox", ignore=ignore)


def _ignoring(root: Path, relatives: Iterable[str]) -> Callable[[str, list[str]], set[str]]:
    """A ``copytree`` ignore function for :data:`_IGNORED` and the given paths relative to ``root``."""
    excluded = {root / relative for relative in relatives}

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = set(_IGNORED(directory, names)) | ({".complete"} if Path(directory) == root else set())
        return skipped | {name for name in names if Path(directory, name) in excluded}

    return ignore


def _fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def stage_bundles(*, build_dir: Path = BUILD_DIR) -> LambdaBundles:
    """Stage the API's Chalice project and the workers' asset under ``build_dir``.

    The staged contents depend only on the sources, so Chalice's package cache (keyed by a hash
    of the project) and CDK's asset hashes stay the same from one synthesis to the next.
    """
    dependencies = build_dependencies(build_dir=build_dir)

    api = build_dir / "api"
    for stale in ("app.py", "chalicelib", "vendor", ".chalice/config.json"):
        path = api / stale
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    # .chalice/deployments/ survives: Chalice reuses the package it built for an identical project.
    (api / ".chalice").mkdir(parents=True, exist_ok=True)
    shutil.copy2(FUNCTIONS_DIR / "app.py", api / "app.py")
    shutil.copytree(FUNCTIONS_DIR / "chalicelib", api / "chalicelib", ignore=_IGNORED)
    shutil.copy2(FUNCTIONS_DIR / ".chalice" / "config.json", api / ".chalice" / "config.json")
    shutil.copytree(dependencies, api / "vendor", ignore=_ignoring(dependencies, API_EXCLUDED))
    _copy_package(api / "vendor")

    workers = _fresh(build_dir / "workers")
    shutil.copytree(dependencies, workers, ignore=shutil.ignore_patterns(".complete"), dirs_exist_ok=True)
    _copy_package(workers)
    source = FUNCTIONS_DIR / "workers"
    if source.is_dir():
        shutil.copytree(source, workers / "workers", ignore=_IGNORED)
    else:  # the worker modules land with their own issues; the handler names are fixed already
        (workers / "workers").mkdir()
    return LambdaBundles(dependencies=dependencies, api_project=api, workers=workers)
