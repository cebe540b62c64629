"""Stop requests (Ctrl-C, SIGTERM from a scheduler) honoured only between steps.

A KeyboardInterrupt raised mid-step would leave some networks updated and others not, and a
checkpoint saved then could not resume exactly. The first signal only asks the loop to stop at
the next step boundary; a second one interrupts at once, for a user who insists.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequested(KeyboardInterrupt):
    """The run stopped at a step boundary as asked, saved, and on every rank at that step;
    a plain KeyboardInterrupt (the insistent second signal) promises none of that."""


@contextlib.contextmanager
def deferred_stop_requests() -> Iterator[threading.Event]:
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested  # signal handlers can only be installed from the main thread
        return
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}

    def request_stop(number: int, frame: object) -> None:
        requested.set()
        for restored, handler in previous.items():
            signal.signal(restored, handler)

    for number in STOP_SIGNALS:
        signal.signal(number, request_stop)
    try:
        yield requested
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
