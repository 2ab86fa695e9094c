"""Rate tools: frame ticks, a frame pacer (at most N sends per second) and a command token
bucket."""

from __future__ import annotations

import math

# Paced play wakes on the loop clock's multiples of its frame interval — the same ticks for
# every session at the same frame rate — so a class's slices come due in one turn of the loop
# and run together (cohort.py). A wake this share of an interval early is on its tick.
TICK_TOLERANCE = 0.05


def tick_after(now: float, interval: float) -> float:
    """The first frame tick after ``now``."""
    return (math.floor(now / interval + TICK_TOLERANCE) + 1) * interval


def tick_at(when: float, interval: float) -> float:
    """The first frame tick at or after ``when`` (a unit due then is not woken for early)."""
    return math.ceil(when / interval - 1e-9) * interval


class FramePacer:
    """At most ``rate`` sends per second in the long run, absorbing jitter (GCRA).

    Each send books the next slot one interval later (``next_slot``); a send may go up to
    half an interval early, so a frame that arrives a millisecond before its slot is not
    pushed to the slot after it, and one that came late is partly made up for.
    """

    SLACK = 0.5  # intervals a send may go before its slot

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_slot = 0.0

    def set_rate(self, rate: float) -> None:
        self.interval = 1.0 / rate

    def delay(self, now: float) -> float:
        """Seconds to wait before the next send is allowed (0: send now)."""
        return max(0.0, self.next_slot - self.SLACK * self.interval - now)

    def record(self, now: float) -> None:
        """A send happened at ``now``."""
        self.next_slot = max(self.next_slot, now) + self.interval


class TokenBucket:
    """``rate`` tokens a second, holding at most one second's worth (and at least one)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.updated: float | None = None

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        if self.updated is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
