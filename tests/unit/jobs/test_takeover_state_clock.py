"""A takeover state whose times are on another clock is discarded, with a log line (issue 13, observed risk).

The real job functions (halizard.jobs.takeover load_state / save_state) on a real state store.
"""
import time

from halizard.core import takeover as core
from halizard.jobs import takeover
from halizard.probes import clock
from halizard.statefiles import StateStore
from recording_log import RecordingLog


def test_a_wall_clock_wait_from_the_old_version_is_discarded(tmp_path):
    # failed before: the old version stored wall-clock deadlines; read on the boot clock a tie-break
    # wait of 5 s lasted decades, so the takeover slave never fenced a dead master
    store = StateStore(str(tmp_path))
    store.write(takeover.STATE, {"phase": core.TIE_WAIT, "master_uuid": "m", "wait_until": time.time() + 5})
    log = RecordingLog()
    state = takeover.load_state(store, log)
    assert state == core.TakeoverState()
    assert any("another clock" in line for line in log.at("WARNING")), log.lines


def test_a_wait_from_another_boot_is_discarded(tmp_path):
    store = StateStore(str(tmp_path))
    takeover.save_state(store, core.TakeoverState(phase=core.TIE_WAIT, master_uuid="m", wait_until=clock.now() + 5))
    stored = store.read(takeover.STATE)
    stored["boot_id"] = "another-boot"
    store.write(takeover.STATE, stored)
    assert takeover.load_state(store, RecordingLog()) == core.TakeoverState()


def test_a_wait_of_this_boot_is_kept(tmp_path):
    store = StateStore(str(tmp_path))
    state = core.TakeoverState(phase=core.TIE_WAIT, master_uuid="m", wait_until=clock.now() + 5)
    takeover.save_state(store, state)
    assert takeover.load_state(store, RecordingLog()) == state
    after = core.TakeoverState(phase=core.AWAIT_MASTER, master_uuid="m", proof="fenced")
    store.write(takeover.STATE, core.state_to_plain(after))  # no time in it: kept whatever wrote it
    assert takeover.load_state(store, RecordingLog()) == after
