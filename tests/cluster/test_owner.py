"""Which worker serves a path: sessions by their id's hash, everything else worker 0."""

from __future__ import annotations

import collections
import hashlib

from app.cluster.owner import forwarded, owner_of, session_in_path, worker_for


def test_session_paths_name_their_session() -> None:
    assert session_in_path("/api/sessions/abc") == "abc"
    assert session_in_path("/api/sessions/abc/step") == "abc"
    assert session_in_path("/ws/sessions/abc") == "abc"
    assert session_in_path("/api/sessions") is None
    assert session_in_path("/api/sessions/import") is None
    assert session_in_path("/api/classes/current") is None
    assert session_in_path("/ws/classes") is None


def test_owner_is_the_ids_blake2b_modulo_the_workers() -> None:
    for session_id in ("a", "FsgM5elSjawxwYbj8SqZSH7mxTHM_UDS27si4drGCi0", "é"):
        digest = hashlib.blake2b(session_id.encode(), digest_size=8).digest()
        for workers in (1, 2, 3, 7):
            expected = int.from_bytes(digest, "big") % workers
            assert owner_of(session_id, workers) == expected
            assert worker_for(f"/api/sessions/{session_id}/step", workers) == expected
            assert worker_for(f"/ws/sessions/{session_id}", workers) == expected


def test_sessions_spread_over_the_workers() -> None:
    counts = collections.Counter(owner_of(f"session-{n}", 4) for n in range(4000))
    assert set(counts) == {0, 1, 2, 3}
    assert min(counts.values()) > 800  # about 1000 each


def test_requests_without_a_session_go_to_worker_0() -> None:
    for path in ("/api/sessions", "/api/sessions/import", "/api/presets", "/api/classes"):
        assert worker_for(path, 5) == 0
    assert worker_for("/ws/classes", 5) == 0


def test_the_web_process_keeps_the_page_docs_static_and_health() -> None:
    for path in ("/", "/docs", "/static/js/app.js", "/api/health", "/openapi.json"):
        assert not forwarded(path)
    for path in ("/api/sessions", "/api/presets", "/ws/sessions/x", "/ws/classes"):
        assert forwarded(path)
