"""Rate tools: a frame pacer (at most N sends per second) and a command token bucket."""

from __future__ import annotations


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
