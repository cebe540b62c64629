"""Stop requests wait for a step boundary; a second one acts at once."""

from __future__ import annotations

import os
import signal

import pytest

from imagexform.train.interrupts import deferred_stop_requests


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_first_signal_only_requests_a_stop(number):
    before = signal.getsignal(number)
    with deferred_stop_requests() as stop:
        assert not stop.is_set()
        os.kill(os.getpid(), number)
        assert stop.is_set()  # no exception: the loop decides when to stop
    assert signal.getsignal(number) is before


def test_second_interrupt_acts_at_once():
    # whatever handler earlier tests left, the second signal falls back to the previous one
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), deferred_stop_requests() as stop:
            os.kill(os.getpid(), signal.SIGINT)
            assert stop.is_set()
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)
