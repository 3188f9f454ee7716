"""halizard.statefiles: atomic, locked, corrupt files ignored and rebuilt."""
import json
import os
import subprocess
import sys
import threading

import pytest

from halizard.statefiles import StateError, StateStore


@pytest.fixture
def store(tmp_path):
    return StateStore(str(tmp_path))


def test_round_trip_under_the_root(store, tmp_path):
    store.write("pool-view", {"hosts": [1, 2]})
    assert store.read("pool-view", {}) == {"hosts": [1, 2]}
    assert store.path("pool-view") == str(tmp_path / "var" / "lib" / "ha-lizard" / "pool-view.json")
    leftovers = [n for n in os.listdir(store.directory) if n.endswith(".tmp")]
    assert leftovers == []


def test_missing_file_gives_the_default(store):
    assert store.read("nothing", {"a": 1}) == {"a": 1}
    assert store.read("nothing") is None


def test_corrupt_file_is_ignored_set_aside_and_rebuilt(store):
    store.write("flags", {"x": 1})
    with open(store.path("flags"), "w") as handle:
        handle.write('{"x": ')
    assert store.read("flags", {}) == {}
    assert os.path.exists(store.path("flags") + ".corrupt")
    assert not os.path.exists(store.path("flags"))
    store.write("flags", {"x": 2})
    assert store.read("flags", {}) == {"x": 2}


def test_wrong_shape_is_not_trusted(store):
    store.write("view", [1, 2, 3])
    assert store.read("view", {}) == {}
    store.write("count", True)
    assert store.read("count", 0) == 0


def test_binary_garbage_is_corrupt(store):
    os.makedirs(store.directory)
    with open(store.path("g"), "wb") as handle:
        handle.write(b"\xff\xfe\x00")
    assert store.read("g", {"ok": True}) == {"ok": True}


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "", ".hidden", "x" * 200, None])
def test_bad_names_are_refused(store, name):
    with pytest.raises(StateError):
        store.write(name, {})


def test_unserialisable_value_leaves_the_old_file_untouched(store):
    store.write("v", {"old": True})
    with pytest.raises(StateError, match="not JSON-serialisable"):
        store.write("v", {"bad": object()})
    assert store.read("v", {}) == {"old": True}


def test_unusable_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = StateStore(directory=str(blocker / "state"))
    with pytest.raises(StateError, match="cannot write state file"):
        store.write("v", {})
    assert store.read("v", {"d": 1}) == {"d": 1}


def test_update_is_an_atomic_read_modify_write_across_processes(store, tmp_path):
    script = ("import sys\nfrom halizard.statefiles import StateStore\n"
              "s = StateStore(sys.argv[1])\n"
              "for _ in range(15):\n"
              "    s.update('counter', lambda v: {'n': v['n'] + 1}, {'n': 0})\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)]) for _ in range(3)]
    failures = []

    def bump():
        try:
            for _ in range(15):
                store.update("counter", lambda v: {"n": v["n"] + 1}, {"n": 0})
        except Exception as exc:  # reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for proc in procs:
        assert proc.wait(120) == 0
    assert failures == []
    assert store.read("counter", {}) == {"n": 75}


def test_readers_never_see_a_partial_file(store):
    big = {"hosts": ["h%d" % i for i in range(5000)]}
    store.write("big", big)
    stop = threading.Event()
    bad = []

    def reader():
        while not stop.is_set():
            with open(store.path("big")) as handle:
                try:
                    json.load(handle)
                except ValueError:
                    bad.append(1)

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(30):
        store.write("big", dict(big, n=i))
    stop.set()
    thread.join(10)
    assert bad == []


def test_remove(store):
    store.write("flag", {"on": 1})
    store.remove("flag")
    store.remove("flag")
    assert store.read("flag") is None
