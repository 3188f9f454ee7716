"""One instance per root: the lock is held for the process lifetime, the pid file follows it."""
import os
import subprocess
import sys

import pytest

from halizard.supervisor.locks import LOCK_NAME, AlreadyRunning, InstanceLock, pid_path, read_pid

HOLD = ("import sys, time\nfrom halizard.supervisor.locks import InstanceLock\n"
        "lock = InstanceLock(sys.argv[1])\nlock.acquire()\nprint('held', flush=True)\ntime.sleep(60)\n")


def test_acquire_writes_pid_and_release_removes_it(tmp_path):
    lock = InstanceLock(str(tmp_path))
    lock.acquire()
    assert read_pid(str(tmp_path)) == os.getpid()
    assert oct(os.stat(os.path.dirname(pid_path(str(tmp_path)))).st_mode & 0o777) == "0o700"
    lock_file = os.path.join(os.path.dirname(pid_path(str(tmp_path))), LOCK_NAME)
    assert oct(os.stat(lock_file).st_mode & 0o777) == "0o600"
    lock.release()
    assert read_pid(str(tmp_path)) is None


def test_second_holder_is_refused_and_a_dead_holder_frees_it(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE,
                              universal_newlines=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = InstanceLock(str(tmp_path))
        assert lock.is_held_elsewhere()
        with pytest.raises(AlreadyRunning, match="already running \\(pid %d\\)" % holder.pid):
            lock.acquire()
    finally:
        holder.kill()
        holder.wait(10)
    lock = InstanceLock(str(tmp_path))
    lock.acquire()   # a crashed holder leaves no stale lock
    assert read_pid(str(tmp_path)) == os.getpid()
    lock.release()


def test_garbage_pid_file_is_ignored(tmp_path):
    path = pid_path(str(tmp_path))
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        handle.write("not a pid")
    assert read_pid(str(tmp_path)) is None
