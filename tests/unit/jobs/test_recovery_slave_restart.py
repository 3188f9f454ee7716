"""slave_recovery against a real (in-process) simulated pool: fence (XVM), release, restart, lock, refusal.

Why: the restart of a dead slave's VMs is where speed and "never twice"
meet. These tests run the real Recovery against the simulator: the VMs come
back exactly once, the VM action lock keeps other VM jobs out (and a held
lock defers the release), and an unsafe configuration fences nothing.
"""
import os
import time

import pytest
from fake_env import FakeEnv

from halizard.config.effective import build_effective
from halizard.core import health, quorum
from halizard.fence.registry import agent_from_config
from halizard.jobs import slave_recovery, vm_monitor
from halizard.jobs.base import Clocks
from halizard.xapi.pool_view import read_pool
from halizard.sim.outer import outer_vm_uuid
from halizard.xapi.session import open_session

import sim_pools as _sim
KEY = "XenCenter.CustomFields.ha-lizard-enabled"
VICTIM = "host3"


@pytest.fixture
def pool(tmp_path):
    from sim_pools import assemble

    handle = _sim.InprocPool(assemble(str(tmp_path / "pool"), 3, 9, start_latency=0.05, fuse=0.5))
    yield handle
    handle.close()


def _config(pool, root, **extra):
    """An XVM fence configuration against the simulator's outer dom0 (the real agent), plus `extra` pool keys."""
    folder = os.path.join(root, "etc", "ha-lizard", "fence", "XVM")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "XVM.hosts"), "w") as handle:
        for h in pool.hosts:
            handle.write("%s:%s\n" % (h["uuid"], outer_vm_uuid(h["uuid"])))
    outer = pool.json["outer_url"].split("//", 1)[-1].rstrip("/")
    other = {"HA_FENCE_METHOD": "XVM", "HA_FENCE_IPADDRESS": outer, "HA_FENCE_PASSWD": pool.json["outer_password"],
             "HA_XE_TIMEOUT": "5", "HA_XAPI_COUNT": "2", "HA_XAPI_DELAY": "1", "HA_MONITOR_DELAY": "2"}
    other.update(extra)
    return build_effective(other, {}, hostname="host1")


class Calls:
    """Counts how often the agent factory was asked for an agent (a refusal asks for none)."""

    def __init__(self, factory):
        self.factory = factory
        self.count = 0

    def __call__(self):
        self.count += 1
        return self.factory()


def _recovery(pool, tmp_path, config):
    """A Recovery on a fake Env with the real clocks (the VM action lock compares file times)."""
    session = open_session(pool.host("host1")["address"], "root", pool.password, 10.0)
    view = read_pool(session, KEY)
    victim = pool.host(VICTIM)["uuid"]
    probes = {victim: health.ProbeResult(tries=2, xapi_ok=False, network_ok=False, first_failure_at=0.0)}
    q = quorum.QuorumResult(2, 3, True, False, False, "2 of 3 hosts reachable")
    usable = {h.uuid for h in view.hosts if h.uuid != victim}
    root = str(tmp_path / "root")
    env = FakeEnv(root, "master_cycle")
    env.clock = Clocks()
    factory = Calls(lambda: agent_from_config(config, root))
    policy = config.policy() if not config.unsafe else vm_monitor.policy_of(config)
    rec = slave_recovery.Recovery(env, session, config,
                                  slave_recovery.Cycle(view, policy, probes, q, usable, time.time()),
                                  agent_factory=factory, still_alive=lambda address, deadline: False)
    verdicts = {victim: health.HealthVerdict(health.FAILED, False, "silent in 2 tries")}
    return session, rec, verdicts, factory


def _on(pool, host):
    return sorted(v["name_label"] for v in pool.status()["vms"] if host in v["running_on"])


def test_a_dead_slaves_vms_run_again_exactly_once(pool, tmp_path):
    victims = _on(pool, VICTIM)
    assert victims
    config = _config(pool, str(tmp_path / "root"))
    pool.fault("power-off", VICTIM)
    session, rec, verdicts, factory = _recovery(pool, tmp_path, config)
    state = rec.state
    try:
        report = slave_recovery.recover_failed(rec, verdicts)
    finally:
        session.logout()
    status = pool.status()
    assert status["violations"] == []
    for vm in status["vms"]:
        if vm["name_label"] in victims:
            assert len(vm["running_on"]) == 1 and vm["running_on"] != [VICTIM], vm
    assert factory.count == 1
    assert "every VM of the host runs again" in list(report.values())[0], report
    assert (state.read("fence-outcomes") or {}) == {pool.host(VICTIM)["uuid"]: "verified"}
    # the marker was touched on release: a VM job's older snapshot counts as stale
    lock = vm_monitor.ActionLock(None, directory=state.directory)
    assert lock.changed_since(0) and not lock.changed_since(os.stat(lock.marker).st_mtime)


def test_a_held_vm_action_lock_defers_the_release(pool, tmp_path):
    """While another VM job holds the lock, nothing of the dead host is reset or started (fenced only)."""
    victims = _on(pool, VICTIM)
    config = _config(pool, str(tmp_path / "root"))
    pool.fault("power-off", VICTIM)
    session, rec, verdicts, _factory = _recovery(pool, tmp_path, config)
    rec.lock_wait = 0.3
    state = rec.state
    holder = vm_monitor.ActionLock(None, directory=state.directory)
    assert holder.acquire()
    try:
        report = slave_recovery.recover_failed(rec, verdicts)
    finally:
        holder.release()
        session.logout()
    assert "release waits" in list(report.values())[0], report
    by_name = {v["name_label"]: v for v in pool.status()["vms"]}
    assert all(by_name[n]["power_state"] == "Running" and by_name[n]["running_on"] == [] for n in victims)
    assert state.read("recovery", {}) == {}  # nothing released: the next cycle does it
    assert (state.read("fence-outcomes") or {}) == {pool.host(VICTIM)["uuid"]: "verified"}


def test_an_unsafe_configuration_fences_and_restarts_nothing(pool, tmp_path):
    victims = _on(pool, VICTIM)
    config = _config(pool, str(tmp_path / "root"), HA_SELF_FENCE_WAIT="1")
    assert config.unsafe
    pool.fault("power-off", VICTIM)
    session, rec, verdicts, factory = _recovery(pool, tmp_path, config)
    log = rec.log
    try:
        report = slave_recovery.recover_failed(rec, verdicts)
    finally:
        session.logout()
    assert factory.count == 0
    text = list(report.values())[0]
    assert "not fenced" in text and "SELF_FENCE_WAIT" in text
    assert len(log.errors()) == 1 and "refused" in log.errors()[0]
    by_name = {v["name_label"]: v for v in pool.status()["vms"]}
    assert all(by_name[n]["running_on"] == [] for n in victims)


def test_a_view_older_than_another_jobs_action_is_read_again(pool, tmp_path):
    """Another VM job restarted one of the dead host's VMs after the cycle read the pool: the recovery
    reads again and does not try to start that VM a second time."""
    victims = _on(pool, VICTIM)
    config = _config(pool, str(tmp_path / "root"))
    pool.fault("power-off", VICTIM)
    session, rec, verdicts, _factory = _recovery(pool, tmp_path, config)
    state, log = rec.state, rec.log
    other = vm_monitor.ActionLock(None, directory=state.directory)
    assert other.acquire()
    try:  # "another job": resets and starts the first victim by itself, then lets go having acted
        x = session.xenapi
        ref = x.VM.get_by_name_label(victims[0])[0]
        x.VM.power_state_reset(ref)
        x.VM.start_on(ref, x.host.get_by_name_label("host2")[0], False, False)
        rec.view_at -= 1.0  # the view was read before that (mtime resolution on some filesystems is coarse)
    finally:
        other.release(acted=True)
    try:
        slave_recovery.recover_failed(rec, verdicts)
    finally:
        session.logout()
    text = "\n".join(t for _level, t in log.lines)
    assert "read again" in text
    assert victims[0] not in text.split("read again", 1)[1], text  # no start (or decline) of it afterwards
    status = pool.status()
    assert status["violations"] == []
    for vm in status["vms"]:
        if vm["name_label"] in victims:
            assert len(vm["running_on"]) == 1 and vm["running_on"] != [VICTIM], vm
