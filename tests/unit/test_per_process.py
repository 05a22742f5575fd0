"""PerProcess: one object per process, built once even when threads race, replaceable."""

from __future__ import annotations

import threading
import time

from callingbox.core.per_process import PerProcess


def test_racing_threads_share_one_build() -> None:
    builds: list[object] = []

    def build() -> object:
        time.sleep(0.05)  # long enough for every thread to arrive while the first is building
        builds.append(object())
        return builds[-1]

    holder = PerProcess(build)
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(holder.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1 and seen == builds * 8


def test_install_replaces_and_none_rebuilds() -> None:
    counter = iter(range(100))
    holder = PerProcess(lambda: next(counter))
    assert holder.get() == 0 and holder.get() == 0
    holder.install(42)
    assert holder.get() == 42
    holder.install(None)
    assert holder.get() == 1
