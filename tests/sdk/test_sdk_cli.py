"""The ``callingbox`` command: API subcommands through a mock transport, settings lookup, errors."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sdk_harness import MockServer, agent_json, body_of, call_json, error, listing, ok

from callingbox import Callingbox
from callingbox.cli.main import build_parser, load_settings, main, read_env_file


@pytest.fixture
def run(server: MockServer, capsys: pytest.CaptureFixture[str]):
    """Run the command against the mock server; return (exit code, stdout, stderr)."""

    def factory() -> Callingbox:
        return Callingbox(api_key="sk_cli", base_url="http://cli.test", max_retries=0,
                          http_client=httpx.Client(transport=httpx.MockTransport(server)))

    def run_command(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv), client_factory=factory)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run_command


def test_agents_list_prints_the_page_as_json(run, server: MockServer) -> None:
    server.reply(ok(listing([agent_json()], next_cursor="c1")))
    code, out, _ = run("agents", "list")
    assert code == 0
    printed = json.loads(out)
    assert printed["data"][0]["id"] == "agent_1"
    assert (printed["has_more"], printed["next_cursor"]) == (True, "c1")
    assert out.startswith('{\n  "object": "list"')


def test_agents_create(run, server: MockServer) -> None:
    server.reply(ok(agent_json()))
    code, out, _ = run(
        "agents", "create", "--name", "Front desk", "--type", "inbound", "--instructions", "Answer.",
        "--returns", '{"caller_name": "string"}', "--number-id", "pn_1", "--number-id", "pn_2",
        "--primary-number-id", "pn_1",
    )
    assert code == 0
    assert body_of(server.last) == {
        "name": "Front desk", "type": "inbound", "instructions": "Answer.", "returns": {"caller_name": "string"},
        "number_ids": ["pn_1", "pn_2"], "primary_number_id": "pn_1",
    }
    assert json.loads(out)["object"] == "agent"


def test_agents_create_sends_only_given_options(run, server: MockServer) -> None:
    server.reply(ok(agent_json()))
    run("agents", "create", "--name", "A", "--type", "outbound")
    assert body_of(server.last) == {"name": "A", "type": "outbound"}


def test_bad_returns_json_is_a_usage_error(run) -> None:
    with pytest.raises(SystemExit) as excinfo:
        run("agents", "create", "--name", "A", "--type", "inbound", "--returns", "{nope")
    assert excinfo.value.code == 2


def test_calls_list_and_get(run, server: MockServer) -> None:
    server.reply(ok(listing([call_json()])), ok(call_json(status="completed")))
    code, out, _ = run("calls", "list", "--agent-id", "agent_1", "--status", "completed", "--limit", "5")
    assert code == 0 and json.loads(out)["data"][0]["id"] == "call_1"
    assert dict(server.last.url.params) == {"agent_id": "agent_1", "status": "completed", "limit": "5"}
    code, out, _ = run("calls", "get", "call_1")
    assert code == 0 and json.loads(out)["status"] == "completed"
    assert server.last.url.path == "/v1/calls/call_1"


def test_api_error_goes_to_stderr_with_exit_1(run, server: MockServer) -> None:
    server.reply(error(404, "resource_missing", "No such call: call_9", request_id="req_9"))
    code, out, err = run("calls", "get", "call_9")
    assert (code, out) == (1, "")
    assert err == "error: [req_9] 404 resource_missing: No such call: call_9\n"


def test_missing_key_is_reported_without_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["agents", "list"]) == 1
    assert "CALLINGBOX_API_KEY" in capsys.readouterr().err


def test_settings_come_from_the_environment_first(tmp_path: Path) -> None:
    (tmp_path / ".callingbox").mkdir()
    (tmp_path / ".callingbox" / "local.env").write_text(
        "# written by callingbox dev\nCALLINGBOX_API_KEY=sk_file\nexport CALLINGBOX_BASE_URL='http://file.test'\n\n"
    )
    environ = {"CALLINGBOX_API_KEY": "sk_env"}
    assert load_settings(environ, tmp_path) == ("sk_env", "http://file.test")
    assert load_settings({}, tmp_path) == ("sk_file", "http://file.test")
    assert load_settings({"CALLINGBOX_API_KEY": "a", "CALLINGBOX_BASE_URL": "b"}, tmp_path) == ("a", "b")
    assert load_settings({}, tmp_path / "elsewhere") == (None, None)


def test_read_env_file_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "local.env"
    path.write_text('A=1\n\n# B=2\nC = "three"\nnot a pair\n')
    assert read_env_file(path) == {"A": "1", "C": "three"}


def test_local_stack_commands_are_wired() -> None:
    parser = build_parser()
    dev = parser.parse_args(["dev", "--port", "9000"])
    assert (dev.handler.__name__, dev.host, dev.port) == ("_dev", "127.0.0.1", 9000)
    workspace = parser.parse_args(["workspace", "create", "--name", "acme"])
    assert (workspace.handler.__name__, workspace.name) == ("_workspace_create", "acme")
    assert not getattr(dev, "api", False) and not getattr(workspace, "api", False)
