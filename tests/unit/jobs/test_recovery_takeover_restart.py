"""takeover release + restart against a real (in-process) simulated pool after a real emergency transition.

Why: the new master must bring the old master's VMs back exactly once,
from the one database read it made after the transition, while holding the
VM action lock from the release to the end of the restarts (so its own VM
jobs do not start the same VMs meanwhile).
"""
import time

import pytest

from halizard.config.effective import build_effective
from halizard.core import actions as A
from halizard.core import fencing
from halizard.jobs import takeover, vm_monitor
from halizard.jobs.base import Env as JobEnv
from halizard.statefiles import StateStore
from halizard.xapi import takeover_ops as ops
from recording_log import RecordingLog

import sim_pools as _sim
KEY = "XenCenter.CustomFields.ha-lizard-enabled"
OTHER = {"HA_XE_TIMEOUT": "5", "HA_MONITOR_DELAY": "2", "HA_XAPI_COUNT": "2", "HA_XAPI_DELAY": "1"}


@pytest.fixture
def pool(tmp_path):
    from sim_pools import assemble

    handle = _sim.InprocPool(assemble(str(tmp_path / "pool"), 3, 9, start_latency=0.05, fuse=0.3))
    yield handle
    handle.close()


def _host1_dies_host2_takes_over(pool):
    """host1 powers off, host2 makes the emergency transition; returns (old, new, host1's VM names)."""
    old = pool.host("host1")
    new = pool.host("host2")
    victims = sorted(v["name_label"] for v in pool.status()["vms"] if v["running_on"] == ["host1"])
    assert victims
    pool.fault("power-off", "host1")
    ops.emergency_transition(new["root"], 5.0)
    assert ops.wait_until_master(new["root"], time.monotonic() + 30)
    return old, new, victims


def _env_of_host2(pool, store, log):
    """host2's takeover environment: a view over host2's job Env (its platform chosen by its root)."""
    config = build_effective(OTHER, {}, hostname="host2")
    new = pool.host("host2")
    job = JobEnv(new["root"], "master_watch", state=store, log=log)
    return takeover.Env(job, config, config.policy(), new["uuid"], new["address"])


def test_the_new_master_restarts_the_old_masters_vms_once_holding_the_vm_action_lock(pool, tmp_path):
    old, _new, victims = _host1_dies_host2_takes_over(pool)
    store = StateStore(str(tmp_path / "host2"))
    log = RecordingLog()
    env = _env_of_host2(pool, store, log)
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


@pytest.mark.parametrize("why", ["self-fencing", "no quorum"])
def test_a_self_fencing_or_minority_new_master_restarts_nothing(pool, tmp_path, why):
    """Issue 19 item 1: the takeover restarted the old master's VMs on a host that was self-fencing."""
    from halizard.jobs import self_fence

    old, _new, victims = _host1_dies_host2_takes_over(pool)
    store = StateStore(str(tmp_path / "host2"))
    if why == "self-fencing":
        store.write(self_fence.STATE, {"stopping_since": time.time()})
    else:
        pool.fault("power-off", "host3")  # 1 of 3 hosts left
    log = RecordingLog()
    env = _env_of_host2(pool, store, log)
    try:
        view = takeover._fresh_view(env, _cached(env))
        plan = [a for a in fencing.release_plan(view, old["uuid"], env.policy, fencing.PROOF_FENCED)
                if not isinstance(a, A.RestartVmsOf)]
        assert takeover._release(env, plan) == "ok"
        outcome = takeover._restart(env, A.RestartVmsOf(why="t", host_uuid=old["uuid"]), view)
    finally:
        env.close()
    assert outcome == "refused", log.lines
    assert any("not restarted now" in text and why.split()[-1] in text for _level, text in log.lines), log.lines
    assert not [vm for vm in pool.status()["vms"] if vm["name_label"] in victims and vm["running_on"]]


def test_the_new_master_records_whom_it_replaced(pool, tmp_path):
    """Issue 19 item 1: the record is how the new master knows it may recover the old one."""
    new = pool.host("host2")
    pool.fault("power-off", "host1")
    ops.emergency_transition(new["root"], 5.0)
    log = RecordingLog()
    env = _env_of_host2(pool, StateStore(str(tmp_path / "host2")), log)
    env.old_master = pool.host("host1")["uuid"]
    try:
        outcome = takeover._await_master(env, A.WaitUntilMaster(why="t", deadline=env.clock.boot() + 30))
        assert outcome == "ok", log.lines
        assert ops.read_takeover(env.master()) == "1 " + env.old_master
        takeover._await_master(env, A.WaitUntilMaster(why="resumed", deadline=env.clock.boot() + 30))
        assert ops.read_takeover(env.master()) == "1 " + env.old_master  # a resumed run writes the same
    finally:
        env.close()


def test_the_last_check_stops_a_second_transition_when_a_peer_already_answers_as_master(pool, tmp_path):
    """Issue 13 finding 3: a slave that believes it is the takeover slave finds host3 already master."""
    store = StateStore(str(tmp_path / "host2"))
    log = RecordingLog()
    env = _env_of_host2(pool, store, log)
    try:
        cached = _cached(env)  # host2's view while host1 was master
    finally:
        env.close()
    pool.fault("power-off", "host1")
    third = pool.host("host3")
    ops.emergency_transition(third["root"], 5.0)
    assert ops.wait_until_master(third["root"], time.monotonic() + 30)
    env = _env_of_host2(pool, store, log)
    env.answered = frozenset({third["uuid"]})
    try:
        assert takeover._transition(env, cached) == "aborted", log.lines
    finally:
        env.close()
    assert any("no emergency transition" in text and "answers as master" in text for _level, text in log.lines)
    assert not ops.is_master_now(pool.host("host2")["root"], 2.0)
