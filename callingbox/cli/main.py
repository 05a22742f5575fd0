"""The ``callingbox`` command.

    callingbox agents list [--limit N] [--cursor C]
    callingbox agents create --name N --type inbound|outbound [--instructions TEXT] [--returns JSON]
                             [--number-id pn_… (repeatable)] [--primary-number-id pn_…]
    callingbox calls list [--agent-id …] [--status …] [--limit N] [--cursor C]
    callingbox calls get CALL_ID
    callingbox dev [--host H] [--port P] [--forward-webhooks URL]
                                                  run the local stack (and POST every event to URL)
    callingbox phone ring TO --from FROM [--say LINE ...] [--interactive]
                                                  an inbound call to your number (local carrier)
    callingbox workspace create --name N          create a local workspace and its API key

API commands print the result as JSON and read ``CALLINGBOX_API_KEY`` and ``CALLINGBOX_BASE_URL``;
a variable that is unset is read from ``.callingbox/local.env`` (``KEY=VALUE`` lines) in the
current directory. An API error prints its message to stderr and exits with status 1.

This module imports no server code: ``dev``, ``workspace`` and ``phone`` load ``callingbox.local``
on use (``phone`` reads the carrier's variables instead of the API key: see :mod:`callingbox.cli.phone`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._constants import API_KEY_ENV, BASE_URL_ENV
from .._exceptions import CallingboxError
from ..pagination import SyncCursorPage

if TYPE_CHECKING:
    from .._client import Callingbox

__all__ = ["main", "build_parser", "load_settings", "read_env_file", "LOCAL_ENV_FILE"]

LOCAL_ENV_FILE = Path(".callingbox") / "local.env"
"""Settings file of the local stack, relative to the current directory."""

ClientFactory = Callable[[], "Callingbox"]
"""Builds the API client of one command run."""


def read_env_file(path: Path) -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines; blank lines and ``#`` comments are skipped, quotes around values dropped."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def load_settings(environ: Mapping[str, str], cwd: Path) -> tuple[str | None, str | None]:
    """The API key and base URL: from ``environ``, else from ``cwd/.callingbox/local.env``."""
    api_key, base_url = environ.get(API_KEY_ENV) or None, environ.get(BASE_URL_ENV) or None
    env_file = cwd / LOCAL_ENV_FILE
    if (api_key is None or base_url is None) and env_file.is_file():
        stored = read_env_file(env_file)
        api_key = api_key or stored.get(API_KEY_ENV) or None
        base_url = base_url or stored.get(BASE_URL_ENV) or None
    return api_key, base_url


def _default_client() -> Callingbox:
    from .._client import Callingbox

    api_key, base_url = load_settings(os.environ, Path.cwd())
    if api_key is None:
        raise CallingboxError(f"No API key: set {API_KEY_ENV} or write it to {LOCAL_ENV_FILE}")
    return Callingbox(api_key=api_key, base_url=base_url)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def _emit(result: Any) -> None:
    """Print a model, a page or plain data as indented JSON."""
    if isinstance(result, SyncCursorPage):
        result = {"object": "list", "data": result.data, "has_more": result.has_more,
                  "next_cursor": result.next_cursor}
    sys.stdout.write(json.dumps(_plain(result), indent=2) + "\n")


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _given(**values: Any) -> dict[str, Any]:
    """Keep the options the user actually passed (argparse leaves the others at ``None``)."""
    return {key: value for key, value in values.items() if value is not None}


def _agents_list(args: argparse.Namespace, client: Callingbox) -> int:
    _emit(client.agents.list(**_given(limit=args.limit, cursor=args.cursor)))
    return 0


def _agents_create(args: argparse.Namespace, client: Callingbox) -> int:
    fields = _given(instructions=args.instructions, returns=args.returns, number_ids=args.number_ids,
                    primary_number_id=args.primary_number_id)
    _emit(client.agents.create(name=args.name, type=args.type, **fields))
    return 0


def _calls_list(args: argparse.Namespace, client: Callingbox) -> int:
    filters = _given(agent_id=args.agent_id, status=args.status, limit=args.limit, cursor=args.cursor)
    _emit(client.calls.list(**filters))
    return 0


def _calls_get(args: argparse.Namespace, client: Callingbox) -> int:
    _emit(client.calls.retrieve(args.call_id))
    return 0


def _dev(args: argparse.Namespace) -> int:
    try:
        from callingbox.local.stack import run_dev
    except ImportError as exc:
        return _missing_local_stack(exc)
    # Passed only when given, so a run_dev without the option still works.
    extra = {"forward_webhooks": args.forward_webhooks} if args.forward_webhooks else {}
    return int(run_dev(host=args.host, port=args.port, **extra))


def _workspace_create(args: argparse.Namespace) -> int:
    try:
        from callingbox.local.workspaces import create_workspace_cli
    except ImportError as exc:
        return _missing_local_stack(exc)
    return int(create_workspace_cli(args.name))


def _missing_local_stack(exc: ImportError) -> int:
    sys.stderr.write(f"error: the local stack is not installed ({exc}); run: pip install 'callingbox[local]'\n")
    return 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``callingbox`` command.

    Each leaf sets ``handler``; API commands also set ``api=True`` and get a client as second argument.
    """
    parser = argparse.ArgumentParser(prog="callingbox", description="CallingBox command line.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    agents = commands.add_parser("agents", help="manage agents").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    agents_list = agents.add_parser("list", help="list agents (one page)")
    agents_list.add_argument("--limit", type=int)
    agents_list.add_argument("--cursor")
    agents_list.set_defaults(handler=_agents_list, api=True)
    create = agents.add_parser("create", help="create an agent")
    create.add_argument("--name", required=True)
    create.add_argument("--type", required=True, choices=["inbound", "outbound"])
    create.add_argument("--instructions")
    create.add_argument(
        "--returns", type=_json_object, metavar="JSON", help='result schema, e.g. \'{"confirmed": "boolean"}\''
    )
    create.add_argument("--number-id", dest="number_ids", action="append", metavar="PN_ID",
                        help="attach a number (repeatable)")
    create.add_argument("--primary-number-id", metavar="PN_ID")
    create.set_defaults(handler=_agents_create, api=True)

    calls = commands.add_parser("calls", help="read calls").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    calls_list = calls.add_parser("list", help="list calls (one page)")
    calls_list.add_argument("--agent-id")
    calls_list.add_argument("--status")
    calls_list.add_argument("--limit", type=int)
    calls_list.add_argument("--cursor")
    calls_list.set_defaults(handler=_calls_list, api=True)
    calls_get = calls.add_parser("get", help="show one call")
    calls_get.add_argument("call_id", metavar="CALL_ID")
    calls_get.set_defaults(handler=_calls_get, api=True)

    dev = commands.add_parser("dev", help="run the local stack")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--forward-webhooks", metavar="URL",
                     help="POST every event of the dev workspace, signed, to URL and print each delivery")
    dev.set_defaults(handler=_dev)

    workspace = commands.add_parser("workspace", help="manage local workspaces").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    workspace_create = workspace.add_parser("create", help="create a workspace and print its API key")
    workspace_create.add_argument("--name", required=True)
    workspace_create.set_defaults(handler=_workspace_create)

    from .phone import add_phone_commands

    add_phone_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None, *, client_factory: ClientFactory | None = None) -> int:
    """Run the ``callingbox`` command and return its exit status.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).
        client_factory: Builds the API client; by default from the environment and
            ``.callingbox/local.env``. Tests pass one that uses a mock transport.
    """
    args = build_parser().parse_args(argv)
    try:
        if not getattr(args, "api", False):
            return int(args.handler(args))
        with (client_factory or _default_client)() as client:
            return int(args.handler(args, client))
    except CallingboxError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
