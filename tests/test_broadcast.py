"""Live delivery never blocks the publisher; a watcher whose queue overflowed is told so."""

from __future__ import annotations

import asyncio
import threading

from matcher.broadcast import Broadcast


def test_full_queue_drops_without_blocking_and_flags_the_watcher() -> None:
    hub: Broadcast[int] = Broadcast()

    async def scenario() -> tuple[list[int], bool, int, bool, int]:
        small, everything = hub.subscribe(max_queued=2), hub.subscribe()
        publisher = threading.Thread(target=hub.publish, args=(range(10),))
        publisher.start()  # from a worker thread, as the service publishes
        publisher.join(timeout=5)  # returns at once although `small` can hold only 2
        assert not publisher.is_alive()
        await asyncio.sleep(0.05)  # the loop hands the batch over
        got = [await small.next() for _ in range(2)]
        flagged = small.overflowed
        queued = everything.queue.qsize()
        hub.unsubscribe(small)
        hub.unsubscribe(everything)
        hub.publish([12])  # unsubscribed watchers get nothing more
        await asyncio.sleep(0.05)
        return got, flagged, queued, everything.overflowed, small.queue.qsize()

    got, flagged, queued, everything_overflowed, left = asyncio.run(scenario())
    assert got == [0, 1] and flagged
    assert queued == 10 and not everything_overflowed
    assert left == 0
    assert hub.watchers() == 0


def test_a_thousand_watchers_cost_no_thread_and_all_get_the_item() -> None:
    hub: Broadcast[str] = Broadcast()
    before = threading.active_count()

    async def scenario() -> list[str]:
        watchers = [hub.subscribe() for _ in range(1000)]
        assert threading.active_count() == before
        threading.Thread(target=hub.publish, args=(["alert"],)).start()
        got = await asyncio.gather(*(asyncio.wait_for(w.next(), 5) for w in watchers))
        for watcher in watchers:
            hub.unsubscribe(watcher)
        return got

    assert asyncio.run(scenario()) == ["alert"] * 1000
