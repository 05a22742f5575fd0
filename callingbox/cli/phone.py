"""``callingbox phone ring``: an inbound call to one of your numbers, from the command line.

    callingbox phone ring +14155550101 --from +15551234567 [--say "line" ...]
    callingbox phone ring +14155550101 --from +15551234567 --interactive

Without ``--interactive`` the running local carrier (``make dev``) rings the number with a
simulated caller who says the ``--say`` lines, one per turn; the command prints the CallSid, each
status and the outcome. With ``--interactive`` this process is the caller: it signs and POSTs the
number's voice webhook, opens the media stream the TwiML names, and says each line you type
(synthesized offline); it shows when the agent is speaking. Ctrl-D hangs up.

Reads ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``CALLINGBOX_TWILIO_API_URL`` and
``CALLINGBOX_VOICE_URL`` from the environment, else from ``.callingbox/local.env``.
This module loads the carrier (``callingbox.local.carrier``) only when the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
from pathlib import Path
from typing import AsyncIterator, Mapping, Optional

__all__ = ["add_phone_commands", "phone_ring", "carrier_settings", "CARRIER_VARIABLES"]

CARRIER_VARIABLES = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "CALLINGBOX_TWILIO_API_URL", "CALLINGBOX_VOICE_URL")


def carrier_settings(environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """The carrier variables: from ``environ``, else from ``cwd/.callingbox/local.env``."""
    from .main import LOCAL_ENV_FILE, read_env_file

    values = {name: environ[name] for name in CARRIER_VARIABLES if environ.get(name)}
    env_file = cwd / LOCAL_ENV_FILE
    if len(values) < len(CARRIER_VARIABLES) and env_file.is_file():
        stored = read_env_file(env_file)
        for name in CARRIER_VARIABLES:
            if not values.get(name) and stored.get(name):
                values[name] = stored[name]
    return values


def add_phone_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Register ``phone ring`` on the top-level parser's subcommands."""
    phone = commands.add_parser("phone", help="simulate phone calls (local carrier)").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    ring = phone.add_parser("ring", help="ring one of your numbers as an inbound caller")
    ring.add_argument("to", metavar="TO", help="your number, E.164 (+14155550101)")
    ring.add_argument("--from", dest="from_", required=True, metavar="FROM", help="the caller's number, E.164")
    ring.add_argument("--say", dest="lines", action="append", metavar="LINE",
                      help="a line the caller says, one per turn (repeatable)")
    ring.add_argument("--interactive", action="store_true", help="be the caller: type each line, Ctrl-D hangs up")
    ring.add_argument("--wait", type=float, default=600.0, metavar="SECONDS",
                      help="give up following the call after this long (default 600)")
    ring.set_defaults(handler=phone_ring)


def phone_ring(args: argparse.Namespace) -> int:
    """Run ``phone ring``; exit status 0 once the call ended, 1 on an error."""
    try:
        from callingbox.local.carrier.caller import CarrierRequestError
    except ImportError as exc:
        sys.stderr.write(f"error: the local carrier is not installed ({exc}); run: pip install 'callingbox[dev]'\n")
        return 1
    settings = carrier_settings(os.environ, Path.cwd())
    missing = [name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not settings.get(name)]
    if not args.interactive and not settings.get("CALLINGBOX_TWILIO_API_URL"):
        missing.append("CALLINGBOX_TWILIO_API_URL")
    if missing:
        sys.stderr.write(f"error: {', '.join(missing)} not set; start the local stack (make dev) or export them\n")
        return 1
    try:
        if args.interactive:
            return _ring_interactively(args, settings)
        return _ring_through_carrier(args, settings)
    except CarrierRequestError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except (LookupError, ValueError, TimeoutError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1


def _print(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _ring_through_carrier(args: argparse.Namespace, settings: Mapping[str, str]) -> int:
    from callingbox.local.carrier.caller import ring_through_carrier

    call = ring_through_carrier(settings["CALLINGBOX_TWILIO_API_URL"], settings["TWILIO_ACCOUNT_SID"],
                                settings["TWILIO_AUTH_TOKEN"], args.to, args.from_, lines=args.lines,
                                wait_s=args.wait, on_status=lambda status: _print(f"status: {status}"))
    _print(f"call {call['sid']} ended: {call['status']} after {call.get('duration') or 0} s")
    return 0


def _ring_interactively(args: argparse.Namespace, settings: Mapping[str, str]) -> int:
    from callingbox.local.carrier.caller import call_interactively

    async def run() -> int:
        lines = _stdin_lines(asyncio.get_running_loop(), args.lines or [])
        _print(f"calling {args.to} from {args.from_}: type a line and press Enter to say it; Ctrl-D hangs up")
        call = await call_interactively(
            args.to, args.from_, account_sid=settings["TWILIO_ACCOUNT_SID"], auth_token=settings["TWILIO_AUTH_TOKEN"],
            api_url=settings.get("CALLINGBOX_TWILIO_API_URL"), voice_url=settings.get("CALLINGBOX_VOICE_URL"),
            lines=lines, on_agent=lambda speaking: _print("agent: speaking…" if speaking else "agent: (done)"),
            on_status=lambda status: _print(f"status: {status}"))
        _print(f"call {call.sid} ended: {call.status} after {call.duration or 0} s")
        return 0

    try:
        return asyncio.run(run())
    except KeyboardInterrupt:
        _print("hung up")
        return 0


def _stdin_lines(loop: asyncio.AbstractEventLoop, first: list[str]) -> AsyncIterator[str]:
    """The ``--say`` lines, then each line typed, until end of input.

    A daemon thread reads stdin, so a blocked ``readline`` never keeps the process alive.
    """
    queue: asyncio.Queue[Optional[str]] = asyncio.Queue()

    def read() -> None:
        try:
            for line in sys.stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:
            return  # the call ended and its event loop closed before the next line

    threading.Thread(target=read, name="stdin-lines", daemon=True).start()

    async def lines() -> AsyncIterator[str]:
        for line in first:
            yield line
        while (line := await queue.get()) is not None:
            yield line

    return lines()
