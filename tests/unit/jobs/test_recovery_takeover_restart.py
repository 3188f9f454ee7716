"""takeover release + restart against a real (in-process) simulated pool after a real emergency transition.

Why: the new master must bring the old master's VMs back exactly once,
from the one database read it made after the transition, while holding the
VM action lock from the release to the end of the restarts (so its own VM
jobs do not start the same VMs meanwhile).
"""
import importlib.util
import os
import time

import pytest

from halizard.config.effective import build_effective
from halizard.core import actions as A
from halizard.core import fencing
from halizard.jobs import takeover, vm_monitor
from halizard.statefiles import StateStore
from halizard.xapi import takeover_ops as ops
from recording_log import RecordingLog

_spec = importlib.util.spec_from_file_location(
    "sim_fixtures_for_takeover_restart", os.path.join(os.path.dirname(__file__), "..", "..", "sim", "conftest.py"))
_sim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_sim)
KEY = "XenCenter.CustomFields.ha-lizard-enabled"
OTHER = {"HA_XE_TIMEOUT": "5", "HA_MONITOR_DELAY": "2", "HA_XAPI_COUNT": "2", "HA_XAPI_DELAY": "1"}


@pytest.fixture
def pool(tmp_path):
    from halizard.sim.daemon import assemble

    handle = _sim.InprocPool(assemble(str(tmp_path / "pool"), 3, 9, start_latency=0.05, fuse=0.3))
    yield handle
    handle.close()


def test_the_new_master_restarts_the_old_masters_vms_once_holding_the_vm_action_lock(pool, tmp_path):
    old = pool.host("host1")
    new = pool.host("host2")
    victims = sorted(v["name_label"] for v in pool.status()["vms"] if v["running_on"] == ["host1"])
    assert victims
    pool.fault("power-off", "host1")
    ops.emergency_transition(new["root"], 5.0)
    assert ops.wait_until_master(new["root"], time.monotonic() + 30)

    config = build_effective(OTHER, {}, hostname="host2")
    store = StateStore(str(tmp_path / "host2"))
    log = RecordingLog()
    env = takeover.Env(new["root"], config, config.policy(), store, log, new["uuid"], new["address"], None)
    try:
        ops.recover_slaves(env.master(), timeout=10)
        view = takeover._fresh_view(env, _cached(env))
        assert env.view is view and env.refs.get("VM")  # one read, refs kept for the release and the starts
        plan = [a for a in fencing.release_plan(view, old["uuid"], env.policy, fencing.PROOF_FENCED)
                if not isinstance(a, A.RestartVmsOf)]
        assert takeover._release(env, plan) == "ok"
        other = vm_monitor.ActionLock(None, directory=store.directory)
        assert not other.acquire(0.1)  # held from the release on: no VM job plans or starts meanwhile
        outcome = takeover._restart(env, A.RestartVmsOf(why="t", host_uuid=old["uuid"]), view)
        assert outcome == "ok", log.lines
        assert not other.acquire(0.1)  # still held until the run ends
    finally:
        env.close()
    assert vm_monitor.ActionLock(None, directory=store.directory).wait_free(0.5)
    status = pool.status()
    assert status["violations"] == []
    for vm in status["vms"]:
        if vm["name_label"] in victims:
            assert len(vm["running_on"]) == 1 and vm["running_on"] != ["host1"], vm
    assert not [t for level, t in log.lines if level in ("WARNING", "ERROR")], log.lines


def _cached(env):
    """The view a slave caches while the master answers: pool and hosts (light), master = the old one."""
    return ops.snapshot(env.master(), KEY, light=True)[1]
