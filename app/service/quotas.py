"""Per-client quotas: who a caller is, how much of the server it holds, how fast it answers.

A *client* is one browser (the ``bp_client`` cookie the server issues: 128 random bits) at one
address; a client without the cookie (a script) is its address's anonymous client. Every
quota is counted per client and, larger, per address, so a whole school behind one address
shares the address cap while each of its browsers has its own. Inventing cookies does not
escape the address cap: an address has at most ``max_clients_per_address`` client ids at a
time (past it, a new id is its address's anonymous client).

The address is the peer's, or — only when the peer is a trusted proxy (the
``trusted_proxies`` setting, default none) — the last address its ``X-Forwarded-For`` names
that is not itself a trusted proxy. No FastAPI import here.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClientKey:
    """One client: its address and its browser's id ('' when it sent none)."""

    address: str
    client_id: str = ""

    @property
    def key(self) -> str:
        return f"{self.address} {self.client_id or '-'}"


ANONYMOUS = ClientKey("unknown")


class QuotaExceededError(RuntimeError):
    """A quota is used up: ``quota`` names its setting, ``retry_after`` the seconds to wait
    (for a count: until the client may reasonably expect one back)."""

    def __init__(self, quota: str, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.quota = quota
        self.retry_after = max(1, math.ceil(retry_after))


def check_counts(
    what: str,
    client: ClientKey,
    counts: tuple[int, int],
    limits: tuple[int, int],
    quotas: tuple[str, str],
    retry_after: float,
    release: str,
) -> None:
    """QuotaExceededError when the client's or its address's count has reached its limit.

    ``counts``/``limits``/``quotas``: (this client's, its address's); ``release``: how one
    comes back ("delete one …")."""
    mine, address = counts
    per_client, per_address = limits
    if mine >= per_client:
        raise QuotaExceededError(
            quotas[0],
            f"you hold {mine} {what}, the most one client may ({quotas[0]} = {per_client}): "
            f"{release}",
            retry_after,
        )
    if address >= per_address:
        raise QuotaExceededError(
            quotas[1],
            f"your address holds {address} {what}, the most one address may ({quotas[1]} = "
            f"{per_address}): {release}",
            retry_after,
        )


BURST_SECONDS = 10.0  # a rate's burst: this many seconds' worth at once


class RateLimiter:
    """Token buckets by key: ``per_minute`` events, in bursts of ``BURST_SECONDS``' worth
    (at least one)."""

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1.0, self.rate * BURST_SECONDS)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, at)
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """Take one event for ``key``: 0 when allowed, else the seconds until it would be."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                if len(self._buckets) > 10_000:  # forget the full (idle) buckets
                    self._buckets = {
                        k: v
                        for k, v in self._buckets.items()
                        if v[0] + (now - v[1]) * self.rate < self.burst
                    }
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


class ClientIds:
    """The client ids each address has shown lately: at most ``per_address`` at a time, each
    forgotten once unseen for ``ttl_seconds``."""

    def __init__(
        self, per_address: int, ttl_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_address = per_address
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._seen: dict[str, dict[str, float]] = {}  # address → id → last seen
        self._lock = threading.Lock()

    def admit(self, address: str, client_id: str) -> bool:
        """May this id count as a client of its own (else: its address's anonymous one)?"""
        now = self.clock()
        with self._lock:
            ids = self._seen.setdefault(address, {})
            if client_id not in ids and len(ids) >= self.per_address:
                cutoff = now - self.ttl_seconds
                for stale in [k for k, seen in ids.items() if seen < cutoff]:
                    del ids[stale]
                if len(ids) >= self.per_address:
                    return False
            ids[client_id] = now
            return True


def forwarded_address(peer: str, forwarded_for: str | None, trusted: frozenset[str]) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy; then the last
    ``X-Forwarded-For`` entry that is not a trusted proxy (entries further left are the
    client's own say, and can be forged)."""
    if peer not in trusted or not forwarded_for:
        return peer
    for entry in reversed([part.strip() for part in forwarded_for.split(",")]):
        if entry and entry not in trusted:
            return entry[:64]
    return peer


class Holdings:
    """What clients hold right now (open sockets): counted per client and per address."""

    def __init__(self, what: str, limits: tuple[int, int], quotas: tuple[str, str]) -> None:
        self.what = what
        self.limits = limits
        self.quotas = quotas
        self._clients: dict[ClientKey, int] = {}
        self._addresses: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, client: ClientKey) -> None:
        """One more for ``client``; QuotaExceededError when it or its address has its most."""
        with self._lock:
            check_counts(
                self.what,
                client,
                (self._clients.get(client, 0), self._addresses.get(client.address, 0)),
                self.limits,
                self.quotas,
                5.0,
                f"close one of your {self.what} first",
            )
            self._clients[client] = self._clients.get(client, 0) + 1
            self._addresses[client.address] = self._addresses.get(client.address, 0) + 1

    def give_back(self, client: ClientKey) -> None:
        with self._lock:
            _decrement(self._clients, client)
            _decrement(self._addresses, client.address)


def _decrement(counts: dict[Any, int], key: Any) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
