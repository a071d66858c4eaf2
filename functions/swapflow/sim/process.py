"""A simulator as a process: its banner, SIGTERM handling and the wait until it is stopped."""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Callable, Iterable, Mapping


def print_banner(name: str, base_url: str, credentials: Mapping[str, str], faults: Iterable[str]) -> None:
    out = io.StringIO()
    out.write(f"{name} simulator listening on {base_url}\n")
    for key, value in credentials.items():
        out.write(f"  {key}={value}\n")
    out.write(f"  faults={','.join(sorted(faults)) or 'none'}\n")
    print(out.getvalue(), end="", flush=True)


def stop_signal() -> threading.Event:
    """An event set by SIGTERM; installed before the banner is printed, so a terminate right after it is clean."""
    import signal

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    return done


def wait_forever(stop: Callable[[], None], done: threading.Event) -> None:
    """Block until Ctrl-C or `done` (SIGTERM), then stop the simulator cleanly."""
    with contextlib.suppress(KeyboardInterrupt):
        while not done.wait(0.5):
            pass
    stop()
