"""The costly-work pool: its caps, its time budget, cancelling, closing."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError

import pytest

from app.service.costly import BusyError, CostlyWork, Job


def wait_for_stop(job: Job) -> str:
    """Work that runs until it is told to stop; says why it stopped."""
    while not job.should_stop():
        time.sleep(0.005)
    return "cancelled" if job.cancelled.is_set() else "out of time"


def pool(**caps: int) -> CostlyWork:
    settings = {"threads": 2, "max_waiting": 2, "per_session": 1, "per_client": 2} | caps
    return CostlyWork(**settings)


def test_a_second_call_on_one_session_is_refused_naming_the_session() -> None:
    work = pool()
    job, future = work.submit("s1", "client-a", wait_for_stop, 30.0)
    with pytest.raises(BusyError) as refused:
        work.submit("s1", "client-b", wait_for_stop, 30.0)
    assert refused.value.field == "session" and "max_costly_per_session" in refused.value.message
    job.cancel()
    assert future.result(timeout=5) == "cancelled"
    time.sleep(0.05)  # the done callback frees the slot
    _, again = work.submit("s1", "client-b", wait_for_stop, 0.01)
    assert again.result(timeout=5) == "out of time"
    work.close()


def test_one_client_is_capped_across_sessions() -> None:
    work = pool(per_client=2)
    jobs = [work.submit(f"s{i}", "client-a", wait_for_stop, 30.0) for i in range(2)]
    with pytest.raises(BusyError) as refused:
        work.submit("s9", "client-a", wait_for_stop, 30.0)
    assert refused.value.field == "client"
    jobs.append(work.submit("s9", "client-b", wait_for_stop, 30.0))  # others still may
    for job, future in jobs:
        job.cancel()
        future.result(timeout=5)
    work.close()


def test_the_server_admits_threads_plus_waiting_in_all() -> None:
    work = pool(threads=1, max_waiting=2, per_client=10)
    jobs = [work.submit(f"s{i}", "c", wait_for_stop, 30.0) for i in range(3)]
    assert work.admitted == 3
    with pytest.raises(BusyError) as refused:
        work.submit("s3", "c", wait_for_stop, 30.0)
    assert refused.value.field == "server"
    # Jobs cancelled while they wait never run: their turn ends at once.
    for job, _ in reversed(jobs):
        job.cancel()
    assert jobs[0][1].result(timeout=5) == "cancelled"
    for _, waiting in jobs[1:]:
        with pytest.raises(CancelledError):
            waiting.result(timeout=5)
    deadline = time.monotonic() + 2
    while work.admitted and time.monotonic() < deadline:
        time.sleep(0.01)
    assert work.admitted == 0
    work.close()


def test_the_time_budget_starts_when_the_job_runs_not_while_it_waits() -> None:
    work = pool(threads=1, max_waiting=1, per_client=5)
    started = threading.Event()

    def hold(job: Job) -> float:
        started.set()
        time.sleep(0.3)
        return 0.0

    def measure(job: Job) -> float:
        began = time.monotonic()
        while not job.should_stop():
            time.sleep(0.005)
        return time.monotonic() - began

    work.submit("a", "c", hold, 10.0)
    started.wait(5)
    _, measured = work.submit("b", "c", measure, 0.2)
    ran = measured.result(timeout=5)
    # Its whole budget, though it waited 0.3 s for the thread (a budget counted from the
    # submission would have stopped it at once); and it did stop (a loaded machine may
    # oversleep, so no tighter upper bound).
    assert 0.2 <= ran < 4.0
    work.close()


def test_closing_cancels_running_work_and_refuses_new() -> None:
    work = pool()
    _, future = work.submit("s", "c", wait_for_stop, 60.0)
    time.sleep(0.05)
    work.close()
    assert future.result(timeout=5) == "cancelled"
    with pytest.raises(BusyError) as refused:
        work.submit("t", "c", wait_for_stop, 1.0)
    assert refused.value.field == "server"
