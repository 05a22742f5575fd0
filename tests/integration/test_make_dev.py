"""`callingbox dev` (what `make dev` runs) as a developer uses it: a subprocess, then the SDK."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from callingbox.local.aws import free_port

STARTUP_DEADLINE_S = 60


def _read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_dev_serves_the_api_and_writes_local_env(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALLINGBOX_", "AWS_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "callingbox.cli.main", "dev", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    env_file = tmp_path / ".callingbox" / "local.env"
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while not env_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"callingbox dev did not start:\n{process.stdout.read() if process.stdout else ''}")
            time.sleep(0.2)
        values = _read_env(env_file)
        assert values["CALLINGBOX_BASE_URL"] == f"http://127.0.0.1:{port}"
        assert values["CALLINGBOX_API_KEY"].startswith("cb_live_")
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"

        from callingbox import Callingbox

        client = Callingbox(api_key=values["CALLINGBOX_API_KEY"], base_url=values["CALLINGBOX_BASE_URL"])
        agent = client.agents.create(name="Reminders", type="outbound", instructions="Confirm.",
                                     returns={"confirmed": "boolean"}, number_ids=["pn_abc123"],
                                     primary_number_id="pn_abc123")
        call = client.calls.create(agent_id=agent.id, to="+14155550199")
        assert call.status == "queued"
        assert [c.id for c in client.calls.iter_calls()] == [call.id]
        # The CLI reads the same file.
        listed = subprocess.run([sys.executable, "-m", "callingbox.cli.main", "calls", "list"], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0 and call.id in listed.stdout
        # A second workspace made with the CLI gets its own key and sees none of the first's data.
        made = subprocess.run([sys.executable, "-m", "callingbox.cli.main", "workspace", "create", "--name", "team"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        key = next(word for word in made.stdout.split() if word.startswith("cb_live_"))
        other = Callingbox(api_key=key, base_url=values["CALLINGBOX_BASE_URL"])
        assert list(other.calls.iter_calls()) == []
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0
    assert "CALLINGBOX_API_KEY=" in output and "pn_abc123" in output
