"""Synthesize the app in a fresh interpreter and read what came out (used by tests/infra and the
``infra_synth`` benchmark).

A separate process is what ``cdk synth`` runs too, and it lets the caller put a stand-in ``docker``
first on ``PATH`` that records every invocation: synthesis must not build the gateway image (CDK
only stages its build context; the image is built by ``cdk deploy``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from .bundles import BUILD_DIR, ROOT

__all__ = ["Synthesis", "synthesize", "api_bundle", "unzipped_bytes", "SynthesisFailed"]

_SCRIPT = """\
import json, sys
from infra.app import build_app
app, _ = build_app(context=json.loads(sys.argv[1]), outdir=sys.argv[2])
app.synth()
"""
_FAKE_DOCKER = """#!/bin/sh
echo "$@" >> "{log}"
exit 1
"""
# Node's end-of-life notice from the jsii runtime would otherwise fill the output of every run.
_QUIET_NODE = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,20",
               "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}


class SynthesisFailed(RuntimeError):
    """``app.synth()`` failed (for example on an unacknowledged cdk-nag finding); carries the output."""


@dataclass(frozen=True)
class Synthesis:
    """One synthesis: the stack's template, the cloud assembly directory, the wall time, and every
    ``docker`` command line that was attempted (there should be none)."""

    template: dict[str, Any]
    outdir: Path
    seconds: float
    docker_calls: tuple[str, ...]
    output: str

    @property
    def validation_report(self) -> Optional[dict[str, Any]]:
        """CDK's policy validation report (cdk-nag's findings), when one was written."""
        path = self.outdir / "validation-report.json"
        return json.loads(path.read_text()) if path.is_file() else None


def synthesize(outdir: Path, *, context: Optional[Mapping[str, Any]] = None, build_dir: Path = BUILD_DIR,
               stack_name: str = "CallingBox") -> Synthesis:
    """Run ``build_app(context=…).synth()`` into ``outdir`` in a new interpreter, with a recording
    ``docker`` stand-in first on ``PATH``. Raises :class:`SynthesisFailed` if the synthesis fails."""
    outdir.mkdir(parents=True, exist_ok=True)
    fake_bin = outdir / "fake-bin"
    fake_bin.mkdir(exist_ok=True)
    docker_log = outdir / "docker-calls.log"
    docker_log.unlink(missing_ok=True)
    docker = fake_bin / "docker"
    docker.write_text(_FAKE_DOCKER.format(log=docker_log))
    docker.chmod(0o755)
    env = {**os.environ, **_QUIET_NODE, "PATH": f"{fake_bin}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("CDK_CONTEXT_JSON", None)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(dict(context or {})), str(outdir / "cdk.out")],
                            cwd=outdir, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise SynthesisFailed(f"synthesis failed (exit {result.returncode}):\n{output[-6000:]}")
    assembly = outdir / "cdk.out"
    template = json.loads((assembly / f"{stack_name}.template.json").read_text())
    calls = tuple(docker_log.read_text().splitlines()) if docker_log.is_file() else ()
    return Synthesis(template=template, outdir=assembly, seconds=seconds, docker_calls=calls, output=output)


def api_bundle(synthesis: Synthesis) -> Path:
    """The API function's deployment package as synthesized: the asset the ``APIHandler`` code points to."""
    key = synthesis.template["Resources"]["APIHandler"]["Properties"]["CodeUri"]["Key"]
    return synthesis.outdir / f"asset.{key}"


def unzipped_bytes(archive: Path) -> int:
    """Total uncompressed size of the files in a zip archive."""
    with zipfile.ZipFile(archive) as opened:
        return sum(info.file_size for info in opened.infolist())
