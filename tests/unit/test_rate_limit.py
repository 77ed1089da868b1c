"""Token buckets: burst, refill, Retry-After, separate clients, turning off, bounded memory.

Bad inputs tried: a burst far over the limit, a fractional rate (Retry-After must round up to
a whole second, never 0), rate 0 (off), more clients than the table holds.
"""

from __future__ import annotations

from serve_app.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_passes_then_retry_after_is_given():
    limiter = RateLimiter(clock=Clock())
    assert [limiter.check("a", 1.0, 3) for _ in range(3)] == [0, 0, 0]
    assert limiter.check("a", 1.0, 3) == 1


def test_tokens_refill_at_the_rate():
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for _ in range(2):
        limiter.check("a", 2.0, 2)
    assert limiter.check("a", 2.0, 2) == 1
    clock.now += 0.5  # one token at 2/s
    assert limiter.check("a", 2.0, 2) == 0
    assert limiter.check("a", 2.0, 2) == 1


def test_retry_after_rounds_up_to_whole_seconds():
    limiter = RateLimiter(clock=Clock())
    limiter.check("a", 0.25, 1)
    assert limiter.check("a", 0.25, 1) == 4


def test_clients_have_their_own_buckets():
    limiter = RateLimiter(clock=Clock())
    limiter.check("a", 1.0, 1)
    assert limiter.check("a", 1.0, 1) > 0
    assert limiter.check("b", 1.0, 1) == 0


def test_rate_zero_turns_limiting_off():
    limiter = RateLimiter(clock=Clock())
    assert all(limiter.check("a", 0.0, 1) == 0 for _ in range(100))


def test_table_forgets_least_recent_clients():
    limiter = RateLimiter(max_clients=2, clock=Clock())
    limiter.check("a", 1.0, 1)
    limiter.check("b", 1.0, 1)
    limiter.check("c", 1.0, 1)  # "a" is forgotten and starts with a full bucket
    assert limiter.check("a", 1.0, 1) == 0
    assert len(limiter._buckets) == 2
