"""Ctrl-C on `make up` ends the process promptly, even when something inside the stack is stuck."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

STUCK = """
import threading
from infra.local.runner import stop_within

class Stack:
    def stop(self):
        print("stopping", flush=True)
        threading.Event().wait()  # a stop that never returns (a server that will not shut down)

stop_within(Stack(), {seconds})
"""

LEFTOVER = """
import threading
from infra.local.runner import stop_within

class Stack:
    def stop(self):
        print("stopped", flush=True)

threading.Thread(target=threading.Event().wait).start()  # a non-daemon thread a library left running
stop_within(Stack(), 30)
"""


def run(code: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    return done, time.monotonic() - started


def test_GIVEN_a_stop_that_hangs_WHEN_the_stack_is_stopped_THEN_the_process_exits_and_says_where_it_hung() -> None:
    done, took = run(STUCK.format(seconds=1))

    assert done.returncode == 1
    assert took < 30
    assert "did not stop within 1 s" in done.stderr
    assert "in stop" in done.stderr  # the stuck thread's stack, down to the frame that waits


def test_GIVEN_a_leftover_non_daemon_thread_WHEN_the_stack_has_stopped_THEN_the_process_exits_at_once() -> None:
    done, took = run(LEFTOVER)

    assert (done.returncode, done.stdout.strip()) == (0, "stopped")
    assert took < 30


ELSEWHERE = """
import signal
import sys
import threading
import time
from infra.local.runner import serve_forever

class Stack:
    def stop(self):
        print("stopped", flush=True)

def interrupt(*_):
    raise KeyboardInterrupt

def serving():
    frame = sys._current_frames().get(threading.main_thread().ident)
    while frame is not None and frame.f_code.co_name != "serve_forever":
        frame = frame.f_back
    return frame is not None

def other_thread():
    while not serving():
        time.sleep(0.01)
    print("ready", flush=True)  # only once the main thread waits in serve_forever
    threading.Event().wait()

signal.signal(signal.SIGTERM, interrupt)
threading.Thread(target=other_thread, daemon=True).start()  # a busy stack has many threads
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # so the kernel hands SIGTERM to that one
serve_forever(Stack())
"""


def test_GIVEN_sigterm_delivered_to_another_thread_WHEN_the_stack_serves_THEN_it_still_stops() -> None:
    proc = subprocess.Popen([sys.executable, "-c", ELSEWHERE], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("the stack kept serving after SIGTERM") from None
    assert (proc.returncode, out.strip()) == (0, "stopped")
