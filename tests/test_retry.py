"""The one retry policy: which failures are retried, how often, how long each wait is."""

from __future__ import annotations

import pytest

from sheets_sync.retry import RetryPolicy


class Temporary(Exception):
    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__("temporary")
        self.retry_after = retry_after


class Flaky:
    """Raises the given exceptions in turn, then returns "done"."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


def temporary(exc: BaseException) -> bool:
    return isinstance(exc, Temporary)


def test_retries_what_the_predicate_accepts_then_returns():
    sleeps: list[float] = []
    fn = Flaky(Temporary(), Temporary())
    policy = RetryPolicy(attempts=3, base_delay=1.0, max_delay=8.0)
    assert policy.call(fn, retry_if=temporary, sleep=sleeps.append, rand=lambda: 0.0) == "done"
    assert fn.calls == 3 and sleeps == [0.5, 1.0]


def test_raises_at_once_what_the_predicate_refuses():
    sleeps: list[float] = []
    refused = ValueError("not temporary")
    fn = Flaky(Temporary(), refused)
    with pytest.raises(ValueError) as info:
        RetryPolicy(attempts=5).call(fn, retry_if=temporary, sleep=sleeps.append)
    assert info.value is refused and fn.calls == 2 and len(sleeps) == 1


def test_gives_up_after_the_attempts_with_the_last_exception():
    sleeps: list[float] = []
    last = Temporary()
    fn = Flaky(Temporary(), Temporary(), Temporary(), last, Temporary())
    with pytest.raises(Temporary) as info:
        RetryPolicy(attempts=4).call(fn, retry_if=temporary, sleep=sleeps.append)
    assert info.value is last and fn.calls == 4 and len(sleeps) == 3


@pytest.mark.parametrize("attempts", [0, 1])
def test_at_least_one_attempt_and_no_wait_after_the_last(attempts):
    sleeps: list[float] = []
    fn = Flaky(Temporary())
    with pytest.raises(Temporary):
        RetryPolicy(attempts=attempts).call(fn, retry_if=temporary, sleep=sleeps.append)
    assert fn.calls == 1 and sleeps == []


def test_waits_are_exponential_capped_and_jittered():
    sleeps: list[float] = []
    fn = Flaky(*(Temporary() for _ in range(6)))
    rolls = iter([0.0, 1.0, 0.5, 0.0, 1.0, 0.0])
    policy = RetryPolicy(attempts=7, base_delay=1.0, max_delay=10.0)
    policy.call(fn, retry_if=temporary, sleep=sleeps.append, rand=lambda: next(rolls))
    # Steps 1, 2, 4, 8, 10, 10: half fixed, half scaled by the roll.
    assert sleeps == [0.5, 2.0, 3.0, 4.0, 10.0, 5.0]


def test_a_longer_wait_the_service_asks_for_is_honoured_but_capped():
    sleeps: list[float] = []
    fn = Flaky(Temporary(retry_after=6.0), Temporary(retry_after=0.1), Temporary(retry_after=99.0))
    policy = RetryPolicy(attempts=4, base_delay=1.0, max_delay=8.0)
    policy.call(
        fn,
        retry_if=temporary,
        sleep=sleeps.append,
        rand=lambda: 0.0,
        wait_at_least=lambda exc: getattr(exc, "retry_after", None),
    )
    assert sleeps == [6.0, 1.0, 8.0]


def test_each_retry_is_reported_before_its_wait():
    events: list[tuple] = []
    first, second = Temporary(), Temporary()
    fn = Flaky(first, second)
    RetryPolicy(attempts=3).call(
        fn,
        retry_if=temporary,
        sleep=lambda s: events.append(("sleep", s)),
        rand=lambda: 1.0,
        on_retry=lambda exc, attempt, wait: events.append(("retry", exc, attempt, wait)),
    )
    assert events == [("retry", first, 1, 1.0), ("sleep", 1.0), ("retry", second, 2, 2.0), ("sleep", 2.0)]
