"""The bounded queue: how many requests the server holds at once, and what it says when full.

A request is admitted before its upload is read and leaves when its work is over, so at most
``capacity`` uploads, decoded images and results are in memory together. Over capacity a
request is refused at once (503 with ``Retry-After``): a client retrying later is better
served than one waiting behind an unbounded backlog that outlives its patience.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from imagexform.serve.work import Cancelled

RETRY_AFTER_SECONDS = 1


class QueueFull(Exception):
    """Every place in the server is taken."""


class Admission:
    """Counts of the requests in the server, shared by the event loop and the worker threads.

    ``changed`` is notified on every change, so a monitor (or a test) can wait for a state
    instead of polling for it.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.changed = threading.Condition()
        self.in_flight = 0  # admitted and not finished: uploading, queued or running
        self.running = 0  # in a worker thread
        self.served = 0
        self.refused = 0
        self.cancelled = 0

    def enter(self) -> None:
        """Take a place, or raise :class:`QueueFull`."""
        with self.changed:
            if self.in_flight >= self.capacity:
                self.refused += 1
                self.changed.notify_all()
                raise QueueFull(
                    f"the server is busy ({self.in_flight} requests in progress, the most it "
                    f"holds); retry in {RETRY_AFTER_SECONDS} s"
                )
            self.in_flight += 1
            self.changed.notify_all()

    def leave(self) -> None:
        with self.changed:
            self.in_flight -= 1
            self.changed.notify_all()

    @contextmanager
    def working(self) -> Iterator[None]:
        """Around one request's work in its worker thread."""
        with self.changed:
            self.running += 1
            self.changed.notify_all()
        served = cancelled = 0
        try:
            yield
            served = 1
        except Cancelled:
            cancelled = 1
            raise
        finally:
            with self.changed:
                self.running -= 1
                self.served += served
                self.cancelled += cancelled
                self.changed.notify_all()

    def snapshot(self) -> dict[str, int]:
        with self.changed:
            return {
                "capacity": self.capacity,
                "in_flight": self.in_flight,
                "running": self.running,
                "served": self.served,
                "refused": self.refused,
                "cancelled": self.cancelled,
            }
