"""One retry policy for every caller that talks to a service over the network.

A :class:`RetryPolicy` says how often to try and how long to wait; its
:meth:`~RetryPolicy.call` runs a function under it, with `tenacity`_ doing
the looping. What is worth retrying is the caller's business, given as a
predicate on the exception, so the same policy serves the platform sources
(which map each platform's answers to exceptions first) and can serve the
Google backend (429s, and 5xx answers to reads)::

    policy = RetryPolicy(attempts=6, base_delay=1.0, max_delay=32.0)
    rows = policy.call(read_rows, retry_if=lambda exc: isinstance(exc, Temporary),
                       sleep=self.sleep)

Waits grow exponentially from ``base_delay``, are capped at ``max_delay`` and
carry "equal jitter" (half of each step fixed, half random), so many cron
jobs that failed together do not come back together. A caller whose service
says when to come back (``Retry-After``) passes ``wait_at_least``; that wait
is still capped at ``max_delay``. ``sleep`` and ``rand`` are injectable, so
tests neither sleep nor depend on chance.

When the attempts run out, the last exception is raised as it was: the caller
knows it gave up because a retriable exception came out of :meth:`call`.

.. _tenacity: https://tenacity.readthedocs.io/
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and how long to wait, before giving up on a temporary failure."""

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based).

        Exponential, capped, with equal jitter: ``rand() == 0`` gives half the
        step, ``rand() == 1`` the whole step.
        """
        step = min(self.max_delay, self.base_delay * (2**attempt))
        return step / 2 + rand() * step / 2

    def call(
        self,
        fn: Callable[[], T],
        *,
        retry_if: Callable[[BaseException], bool],
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        wait_at_least: Callable[[BaseException], float | None] | None = None,
        on_retry: Callable[[BaseException, int, float], None] | None = None,
    ) -> T:
        """Return ``fn()``, calling it again while it raises what ``retry_if`` accepts.

        At most ``attempts`` calls (at least one). An exception ``retry_if``
        refuses is raised at once; once the attempts are spent, the last one is
        raised. ``wait_at_least(exc)`` may ask for a longer wait (seconds, or
        None); ``on_retry(exc, attempt, wait)`` is told of each retry before
        its wait (``attempt`` is the 1-based number of the call that failed).
        """

        def wait(state: tenacity.RetryCallState) -> float:
            seconds = self.delay(state.attempt_number - 1, rand)
            floor = wait_at_least(_failure(state)) if wait_at_least else None
            if floor is not None:
                seconds = max(seconds, min(floor, self.max_delay))
            return seconds

        def before_sleep(state: tenacity.RetryCallState) -> None:
            if on_retry is not None:
                assert state.next_action is not None
                on_retry(_failure(state), state.attempt_number, state.next_action.sleep)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(max(1, self.attempts)),
            wait=wait,
            retry=tenacity.retry_if_exception(retry_if),
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(fn)


def _failure(state: tenacity.RetryCallState) -> BaseException:
    assert state.outcome is not None
    exc = state.outcome.exception()
    assert exc is not None
    return exc
