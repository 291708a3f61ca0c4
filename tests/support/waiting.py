"""Bounded waits for a real condition: the one place a test may poll.

A test waits on an event (threading.Event, a reply, a broker message) when the code under
test offers one. Where it does not (a file another process removes, a row a worker
commits, a port a child process opens), `wait_for` polls the condition until a deadline
and fails loudly, naming what did not happen. A test never sleeps a fixed time and then
asserts: the sleep proves nothing about what was still on its way."""

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

Value = TypeVar("Value")

POLL_INTERVAL_S = 0.02


class WaitTimedOut(AssertionError):
    """The condition did not hold within the bound (an AssertionError: the test fails)."""


def _checks(predicate: Callable[[], Value], timeout_s: float, what: str):
    """Checks the predicate until it holds, yielding between checks (the caller waits);
    returns its truthy value, or raises WaitTimedOut once the deadline has passed."""
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        if time.monotonic() >= deadline:
            raise WaitTimedOut(f"not within {timeout_s} s: {what}")
        yield
    return value


def wait_for(predicate: Callable[[], Value], timeout_s: float, what: str,
             interval_s: float = POLL_INTERVAL_S) -> Value:
    """Returns the predicate's first truthy value; raises WaitTimedOut after timeout_s.

    `what` names the condition for the failure message ("the worker subscribed"). The
    predicate may itself raise to stop the wait early (a child process exited)."""
    checks = _checks(predicate, timeout_s, what)
    try:
        while True:
            next(checks)
            time.sleep(interval_s)
    except StopIteration as held:
        return held.value


async def wait_for_async(predicate: Callable[[], Value], timeout_s: float, what: str,
                         interval_s: float = POLL_INTERVAL_S) -> Value:
    """wait_for inside an event loop: yields to the loop's other tasks between checks."""
    checks = _checks(predicate, timeout_s, what)
    try:
        while True:
            next(checks)
            await asyncio.sleep(interval_s)
    except StopIteration as held:
        return held.value


def wait_for_event(event, timeout_s: float, what: str) -> None:
    """Waits on a threading.Event-like object (anything with wait(timeout) -> bool)."""
    if not event.wait(timeout_s):
        raise WaitTimedOut(f"not within {timeout_s} s: {what}")

