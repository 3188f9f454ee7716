"""The VM action lock on filelock: exclusive across holders, bounded waits, released from any thread."""
import threading
import time

from halizard.jobs.action_lock import ActionLock


def test_one_holder_at_a_time_and_waits_are_bounded(tmp_path):
    holder, other = ActionLock(None, directory=str(tmp_path)), ActionLock(None, directory=str(tmp_path))
    assert holder.acquire()
    started = time.monotonic()
    assert not other.acquire(0.2)
    assert 0.15 < time.monotonic() - started < 2.0
    holder.release()
    assert other.acquire(0) and not holder.acquire(0)
    other.release()
    assert holder.wait_free(0) and other.wait_free(0)  # free, and wait_free holds nothing afterwards


def test_a_lock_taken_in_one_thread_is_released_in_another(tmp_path):
    lock, other = ActionLock(None, directory=str(tmp_path)), ActionLock(None, directory=str(tmp_path))
    assert lock.acquire()
    releaser = threading.Thread(target=lock.release, kwargs={"acted": True})
    releaser.start()
    releaser.join()
    assert other.acquire(1.0)
    other.release()


def test_only_a_holder_that_acted_makes_older_views_stale(tmp_path):
    lock = ActionLock(None, directory=str(tmp_path))
    before = time.time() - 1.0
    assert lock.acquire()
    lock.release()
    assert not lock.changed_since(before)  # taking and releasing the lock is no action
    assert lock.acquire()
    lock.release(acted=True)
    assert lock.changed_since(before)
    lock.release(acted=True)  # not held: nothing happens
