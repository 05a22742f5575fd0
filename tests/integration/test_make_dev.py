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
    log = (tmp_path / "dev.log").open("w+")  # a file, not a pipe: a whole call logs more than a pipe holds
    process = subprocess.Popen(
        [sys.executable, "-m", "callingbox.cli.main", "dev", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    env_file = tmp_path / ".callingbox" / "local.env"
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while not env_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"callingbox dev did not start:\n{(tmp_path / 'dev.log').read_text()}")
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
        # The dialer, the local carrier and the gateway take it to the end: a real local conversation.
        deadline = time.monotonic() + 90
        while (current := client.calls.retrieve(call.id)).status not in ("completed", "failed", "no_answer", "busy"):
            assert time.monotonic() < deadline, f"call stuck in {current.status}"
            time.sleep(0.5)
        assert current.status == "completed" and current.answered_by == "human", current
        # Any Twilio-compatible client can play the carrier with what local.env holds: sign a voice
        # webhook request for a number with an inbound agent and get the TwiML that names the stream.
        client.agents.create(name="Desk", type="inbound", instructions="Help.", number_ids=["pn_xyz789"])
        _signed_voice_webhook_answers_with_a_stream(values, to=client.numbers.retrieve("pn_xyz789").number)
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
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    log.seek(0)
    output = log.read()
    assert process.returncode == 0
    assert "CALLINGBOX_API_KEY=" in output and "pn_abc123" in output


def _signed_voice_webhook_answers_with_a_stream(values: dict[str, str], *, to: str) -> None:
    import base64
    import hashlib
    import hmac
    import xml.etree.ElementTree as ET

    import httpx

    url = values["CALLINGBOX_VOICE_URL"]
    form = {"CallSid": "CA" + "1" * 32, "AccountSid": values["TWILIO_ACCOUNT_SID"], "From": "+14155550999",
            "To": to, "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}
    # Twilio's documented scheme, computed here by hand: HMAC-SHA1 of the URL + sorted name/value pairs.
    payload = url + "".join(name + form[name] for name in sorted(form))
    signature = base64.b64encode(hmac.new(values["TWILIO_AUTH_TOKEN"].encode(), payload.encode(),
                                          hashlib.sha1).digest()).decode()
    forged = httpx.post(url, data=form, headers={"X-Twilio-Signature": "x" + signature[1:]}, trust_env=False)
    assert forged.status_code == 403
    answer = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}, trust_env=False)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml")
    stream = ET.fromstring(answer.text).find("Connect/Stream")
    assert stream is not None and stream.get("url", "").startswith("ws://127.0.0.1:")
    assert {p.get("name") for p in stream.findall("Parameter")} >= {"token"}
