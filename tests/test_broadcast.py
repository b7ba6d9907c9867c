"""Live delivery never blocks the publisher; a watcher whose queue overflowed is told so."""

from __future__ import annotations

from matcher.broadcast import Broadcast


def test_full_queue_drops_without_blocking_and_flags_the_watcher() -> None:
    hub: Broadcast[int] = Broadcast()
    with (
        hub.subscribe(lambda n: n % 2 == 0, max_queued=2) as evens,
        hub.subscribe(lambda n: True) as everything,
    ):
        hub.publish(range(10))  # returns at once although `evens` can hold only 2
        assert [evens.queue.get_nowait() for _ in range(2)] == [0, 2]
        assert evens.overflowed and evens.queue.empty()
        assert not everything.overflowed and everything.queue.qsize() == 10
    hub.publish([12])  # unsubscribed watchers get nothing more
    assert evens.queue.empty()
