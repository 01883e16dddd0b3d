"""Group commit under a bad day: a caller that gives up, a write that fails."""

from __future__ import annotations

import asyncio
import threading

import pytest

from survey.group_commit import GroupCommit


async def test_a_cancelled_caller_never_breaks_the_batch_or_the_next_one() -> None:
    """A caller cancelled while its batch is written (a shutdown, a timeout) stops waiting; the
    others of its batch get their results, the write is not cut short, and later puts work
    (the batch used to hand a result to the cancelled caller and fail with InvalidStateError)."""
    started, release = threading.Event(), threading.Event()
    written: list[list[int]] = []

    def write(items: list[int]) -> list[int]:
        started.set()
        release.wait(5)
        written.append(items)
        return [item * 10 for item in items]

    commit: GroupCommit[int, int] = GroupCommit(write)
    first = asyncio.create_task(commit.put(1))
    second = asyncio.create_task(commit.put(2))
    await asyncio.to_thread(started.wait, 5)
    first.cancel()  # its caller gives up while the write is under way
    release.set()
    assert await asyncio.wait_for(second, 5) == 20
    with pytest.raises(asyncio.CancelledError):
        await first
    assert written == [[1, 2]]  # written whole: a record the caller no longer waits for
    assert await asyncio.wait_for(commit.put(3), 5) == 30


async def test_a_failed_write_is_told_to_its_callers_and_the_next_write_goes_ahead() -> None:
    calls = 0

    def write(items: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("database or disk is full")
        return [item.upper() for item in items]

    commit: GroupCommit[str, str] = GroupCommit(write)
    results = await asyncio.gather(commit.put("a"), commit.put("b"), return_exceptions=True)
    assert all(isinstance(result, OSError) for result in results)
    assert await commit.put("c") == "C"
