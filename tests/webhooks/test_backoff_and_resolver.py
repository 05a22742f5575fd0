"""Unit tests: the retry schedule, and the send-time destination check (SSRF) with a fake DNS."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from callingbox.core.delivery import DestinationRefused, resolve_target
from callingbox.core.delivery.backoff import (
    FIRST_RETRY_CEILING_S,
    MAX_DELAY_S,
    RETRY_WINDOW_S,
    next_attempt_at,
    retry_delay,
)

# -- backoff ---------------------------------------------------------------------------------------


def test_the_first_retry_comes_within_a_minute_and_ceilings_double_up_to_an_hour() -> None:
    ceilings = [retry_delay(n, rng=lambda: 1.0) for n in range(1, 12)]
    assert ceilings[0] == FIRST_RETRY_CEILING_S <= 60
    assert ceilings[1:4] == [60, 120, 240]
    assert max(ceilings) == MAX_DELAY_S and ceilings[-1] == MAX_DELAY_S


def test_full_jitter_draws_below_the_ceiling() -> None:
    assert retry_delay(3, rng=lambda: 0.0) == 0
    assert retry_delay(3, rng=lambda: 0.25) == 30


def test_retries_continue_for_24_hours_then_stop() -> None:
    start = 1_000_000.0
    assert RETRY_WINDOW_S >= 24 * 3600
    assert next_attempt_at(start + RETRY_WINDOW_S - 1, window_started_at=start, failures=40) is not None
    assert next_attempt_at(start + RETRY_WINDOW_S, window_started_at=start, failures=41) is None


def test_a_whole_window_of_retries_spans_a_day_with_about_fifty_attempts() -> None:
    # Expected delays (rng 0.5): walk the schedule until it dead-letters.
    now, start, failures = 0.0, 0.0, 0
    while True:
        failures += 1
        later = next_attempt_at(now, window_started_at=start, failures=failures, rng=lambda: 0.5)
        if later is None:
            break
        now = later
    assert now >= RETRY_WINDOW_S and 30 <= failures <= 80


def test_scale_shrinks_delays_and_window_alike() -> None:
    assert retry_delay(1, scale=0.001, rng=lambda: 1.0) == pytest.approx(FIRST_RETRY_CEILING_S * 0.001)
    assert next_attempt_at(RETRY_WINDOW_S * 0.001, window_started_at=0, failures=5, scale=0.001) is None


# -- destination check ----------------------------------------------------------------------------


def dns(*addresses: str, calls: list[str] | None = None) -> Any:
    """A resolver answering every name with ``addresses`` (getaddrinfo's shape)."""

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if calls is not None:
            calls.append(host)
        family = lambda a: socket.AF_INET6 if ":" in a else socket.AF_INET  # noqa: E731
        return [(family(a), socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    return resolve


@pytest.mark.parametrize("address", [
    "10.0.0.7", "172.16.3.4", "192.168.1.20", "127.0.0.1", "127.8.9.10", "169.254.169.254", "0.0.0.0",
    "::1", "fe80::1", "fd00::5", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "100.64.0.1", "224.0.0.1",
])
def test_a_name_resolving_to_an_internal_address_is_refused(address: str) -> None:
    with pytest.raises(DestinationRefused, match="private, loopback or link-local"):
        resolve_target("https://hooks.customer.example/cb", allow_loopback=False, resolver=dns(address))


def test_one_internal_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(DestinationRefused, match="10.1.2.3"):
        resolve_target("https://hooks.customer.example/", allow_loopback=False,
                       resolver=dns("93.184.216.34", "10.1.2.3"))


@pytest.mark.parametrize("url", ["https://10.0.0.1/hook", "https://127.0.0.1/hook", "https://169.254.169.254/latest",
                                 "https://[::1]/hook"])
def test_literal_internal_addresses_are_refused(url: str) -> None:
    with pytest.raises(DestinationRefused):
        resolve_target(url, allow_loopback=False)


def test_loopback_only_with_the_local_opt_in_and_never_metadata() -> None:
    with pytest.raises(DestinationRefused):
        resolve_target("http://127.0.0.1:9000/hook", allow_loopback=False)
    target = resolve_target("http://localhost:9000/hook?x=1", allow_loopback=True, resolver=dns("127.0.0.1"))
    assert (target.address, target.host, target.port, target.target) == ("127.0.0.1", "localhost", 9000, "/hook?x=1")
    for address in ("169.254.169.254", "10.0.0.1"):
        with pytest.raises(DestinationRefused):
            resolve_target("http://metadata.local/", allow_loopback=True, resolver=dns(address))


def test_plain_http_is_refused_outside_the_local_stack() -> None:
    with pytest.raises(DestinationRefused, match="https"):
        resolve_target("http://hooks.customer.example/", allow_loopback=False, resolver=dns("93.184.216.34"))


def test_a_public_name_resolves_to_the_checked_address_once() -> None:
    calls: list[str] = []
    target = resolve_target("https://hooks.customer.example/cb", allow_loopback=False,
                            resolver=dns("93.184.216.34", calls=calls))
    assert (target.address, target.host, target.port, target.scheme) == ("93.184.216.34", "hooks.customer.example",
                                                                         443, "https")
    assert calls == ["hooks.customer.example"]


def test_an_unresolvable_name_is_refused_with_the_reason() -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(-2, "Name or service not known")

    with pytest.raises(DestinationRefused, match="cannot resolve"):
        resolve_target("https://nowhere.invalid/", allow_loopback=False, resolver=fail)
