"""The master-side jobs (master_cycle, master_watch) run for real, in this process, against an
in-process simulated pool: an unsafe configuration is refused, the heuristic vote uses the
simulator's reachability on both sides, suspended slaves are never named takeover slave, and two
masters after a takeover are settled (the old one stands down, the new one recovers it)."""
import os
import time

import pytest
from loguru import logger

from halizard.config import pool_store
from halizard.core.policy import Policy
from halizard.jobs import host_health, master_cycle, master_watch, takeover
from halizard.jobs.base import JobContext, Outcome
from halizard.platform.sim import SimPlatform
from halizard.probes.deadline import after
from halizard.statefiles import StateStore
from halizard.suspension import HOST_KEY, MASTER_CONFLICT, is_suspended
from halizard.xapi import takeover_ops as ops
from halizard.xapi.session import open_session

HA_KEY = "XenCenter.CustomFields.ha-lizard-enabled"
CONFIG = {"MONITOR_DELAY": 2, "XAPI_COUNT": 1, "XAPI_DELAY": 1, "XE_TIMEOUT": 3, "MAIL_ON": 0,
          "ENABLE_ALERTS": 0}
# Far below the self-fencing minimum wait of docs/timing.md: EffectiveConfig.policy() refuses it.
UNSAFE_OVERRIDE = "SELF_FENCE_WAIT=10\n"


class Pool:
    def __init__(self, running):
        self.running = running
        self.sim = running.pool
        self.doc = running.document()
        self.hosts = {h["name_label"]: h for h in self.doc["hosts"]}

    def xapi(self, fn, host="host1"):
        session = open_session(self.hosts[host]["address"], "root", self.doc["password"], timeout=10.0)
        try:
            return fn(session.xenapi)
        finally:
            session.logout()

    def ctx(self, host, name):
        return JobContext(self.hosts[host]["root"], name)

    def name_of(self, uuid):
        return next((n for n, h in self.hosts.items() if h["uuid"] == uuid), uuid)

    def autopromote(self, master="host1"):
        return self.name_of(self.xapi(lambda x: x.pool.get_other_config(x.pool.get_all()[0]).get("autopromote_uuid"),
                                      master))

    def host_other(self, name, master="host1"):
        return self.xapi(lambda x: x.host.get_other_config(x.host.get_by_name_label(name)[0]), master)

    def set_host_other(self, name, key, value, master="host1"):
        def apply(x):
            ref = x.host.get_by_name_label(name)[0]
            if key in x.host.get_other_config(ref):
                x.host.remove_from_other_config(ref, key)
            if value is not None:
                x.host.add_to_other_config(ref, key, value)
        self.xapi(apply, master)

    def override(self, host, text):
        path = os.path.join(self.hosts[host]["root"], "etc", "ha-lizard", "ha-lizard.conf")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)


@pytest.fixture
def pool(tmp_path):
    from sim_pools import assemble

    running = assemble(str(tmp_path / "p"), 3, 3, start_latency=0.05, fuse=0.5)
    p = Pool(running)

    session = open_session(p.hosts["host1"]["address"], "root", p.doc["password"], timeout=10.0)
    try:
        pool_store.apply_changes(session, pool_store.set_parameters(session, CONFIG), {HA_KEY: "true"})
    finally:
        session.logout()
    yield p
    running.close()


@pytest.fixture
def lines():
    """Every log line of the jobs run in this test, as 'LEVEL function: message'."""
    seen = []
    sink = logger.add(lambda m: seen.append("%s %s: %s" % (m.record["level"].name,
                                                           m.record["extra"].get("function"), m.record["message"])),
                      level="DEBUG", format="{message}")
    yield seen
    logger.remove(sink)


def _count(lines, level, text):
    return sum(1 for line in lines if line.startswith(level + " ") and text in line)


# --- 1. an unsafe configuration is refused, the service goes on --------------------------------

def test_master_cycle_refuses_an_unsafe_configuration_logs_once_alerts_once_and_resumes(pool, lines):
    pool.override("host1", UNSAFE_OVERRIDE)
    ctx = pool.ctx("host1", "master_cycle")
    for _ in range(3):
        master_cycle.run(ctx)  # returns normally: the service keeps running
    assert ctx.state.read(host_health.REPORT_STATE) is None, "no probe, fence or recovery while refused"
    assert pool.autopromote() is None or pool.autopromote() == "", "no takeover slave named while refused"
    assert _count(lines, "ERROR", "the master cycle refuses to fence, take over or recover") == 1, lines
    assert _count(lines, "WARNING", "ALERT") == 1, "one alert per MAIL_SCREEN_TIME: %s" % lines
    assert "SELF_FENCE_WAIT" in (ctx.state.read(host_health.REFUSAL_STATE) or {}).get("text", "")

    pool.override("host1", "# safe again\n")
    master_cycle.run(ctx)
    assert (ctx.state.read(host_health.REPORT_STATE) or {}).get("hosts"), "the cycle acts again"
    assert _count(lines, "INFO", "the master cycle acts again") == 1
    assert ctx.state.read(host_health.REFUSAL_STATE) is None
    assert pool.autopromote() in ("host2", "host3")


def test_master_watch_refuses_an_unsafe_configuration_but_keeps_its_caches(pool, lines):
    pool.override("host2", UNSAFE_OVERRIDE)
    ctx = pool.ctx("host2", "master_watch")
    master_watch.run(ctx)
    assert takeover.load_view(ctx.state) is not None, "the pool view is cached even while refused"
    assert _count(lines, "ERROR", "the master watch refuses to fence, take over or recover") == 1, lines


def test_a_refusal_is_alerted_again_after_mail_screen_time(pool, lines):
    pool.override("host1", UNSAFE_OVERRIDE + "MAIL_SCREEN_TIME=1\n")
    ctx = pool.ctx("host1", "master_cycle")
    config = master_cycle_config(ctx)
    now = time.time()
    assert host_health.policy_or_refusal(ctx, config, "the master cycle", now=now)[0] is None
    assert host_health.policy_or_refusal(ctx, config, "the master cycle", now=now + 30)[0] is None
    assert _count(lines, "WARNING", "ALERT") == 1
    assert host_health.policy_or_refusal(ctx, config, "the master cycle", now=now + 61)[0] is None
    assert _count(lines, "WARNING", "ALERT") == 2


def master_cycle_config(ctx):
    from halizard.xapi.pool_config import load_effective
    return load_effective(ctx.root)


# --- 2. one heuristic probe: the simulator's faults apply on both sides ------------------------

def test_a_slave_whose_link_is_down_does_not_get_the_heuristic_vote(pool):
    policy = Policy.from_mapping({"FENCE_HEURISTICS_IPS": (pool.hosts["host1"]["address"],),
                                  "FENCE_USE_IP_HEURISTICS": True, "XE_TIMEOUT": 2})
    slave = SimPlatform(pool.hosts["host2"]["root"])
    other = SimPlatform(pool.hosts["host3"]["root"])
    assert host_health.heuristics_ok(slave, policy) is True
    pool.sim.fault("link-down", ["host2"])
    started = time.monotonic()
    assert host_health.heuristics_ok(slave, policy) is False
    assert time.monotonic() - started < 5.0, "one deadline bounds the heuristic probe"
    assert host_health.heuristics_ok(other, policy) is True
    pool.sim.fault("link-up", ["host2"])
    pool.sim.fault("partition", ["host2", "host1,host3"])
    assert host_health.heuristics_ok(slave, policy) is False
    assert host_health.heuristics_ok(other, policy) is True
    pool.sim.fault("heal", [])
    assert host_health.heuristics_ok(slave, policy) is True
    assert host_health.heuristics_ok(slave, Policy.from_mapping({"FENCE_USE_IP_HEURISTICS": False})) is None


# --- 3. a suspended slave is never named takeover slave ------------------------------------------

def test_a_suspended_slave_publishes_its_suspension_and_the_master_names_another(pool):
    cycle_ctx = pool.ctx("host1", "master_cycle")
    master_cycle.run(cycle_ctx)
    first = pool.autopromote()
    second = "host3" if first == "host2" else "host2"
    assert first in ("host2", "host3")

    # `first` could not fence a master once and suspended its HA; the master had marked it failed
    watch_ctx = pool.ctx(first, "master_watch")
    takeover.suspend(watch_ctx.state, "test: could not fence the master")
    pool.set_host_other(first, HA_KEY, "failed")
    master_watch.run(watch_ctx)
    assert is_suspended(watch_ctx.root)
    assert pool.host_other(first).get(HOST_KEY) == "true", "the suspended slave publishes it"

    master_cycle.run(cycle_ctx)  # probes it healthy and marks it so, but does not name it
    assert pool.autopromote() == second
    assert pool.host_other(first).get(HA_KEY) == "healthy"

    master_watch.run(watch_ctx)  # marked healthy: the suspension is lifted and unpublished
    assert not is_suspended(watch_ctx.root)
    assert HOST_KEY not in pool.host_other(first)
    master_cycle.run(cycle_ctx)
    by_uuid = min(("host2", "host3"), key=lambda name: pool.hosts[name]["uuid"])
    assert pool.autopromote() == by_uuid, "eligible again: the smallest uuid, as the slaves compute it"


# --- 4. two masters after a takeover -------------------------------------------------------------

def test_old_master_stands_down_and_the_new_master_recovers_it(pool, lines):
    old, new = pool.hosts["host1"], pool.hosts["host2"]
    pool.xapi(lambda x: x.pool.add_to_other_config(x.pool.get_all()[0], "autopromote_uuid", new["uuid"]))
    old_ctx, new_ctx = pool.ctx("host1", "master_cycle"), pool.ctx("host2", "master_cycle")

    pool.sim.fault("power-off", ["host1"])
    report = master_cycle.run(old_ctx)  # its own xapi is silent: VM starts stay suspended from now on
    assert report.outcome is Outcome.FAILED and "own xapi not answering" in report.text
    assert is_suspended(old["root"])
    ops.emergency_transition(new["root"], 5.0)
    assert ops.wait_until_master(new["root"], after(20.0))
    session = ops.master_session(new["root"], 5.0)
    try:
        ops.write_takeover(session, "1 " + old["uuid"])  # what the takeover writes once xapi answers as master
        ops.recover_slaves(session, timeout=5.0)
    finally:
        session.logout()
    pool.set_host_other("host1", HA_KEY, "failed", master="host2")  # what the takeover's release writes

    pool.sim.fault("power-on", ["host1"])
    pool.sim.xapi_state(old["uuid"])  # the simulator's clock tick: the old master's xapi resyncs
    master_cycle.run(old_ctx)
    assert _count(lines, "ERROR", "master cycle stands down") == 1, lines
    assert is_suspended(old["root"]), "the old master starts nothing meanwhile"
    assert "did not take over from it" in StateStore(old["root"]).read(MASTER_CONFLICT)["why"]
    report = StateStore(old["root"]).read(host_health.REPORT_STATE)
    assert report["hosts"][new["uuid"]]["decision"].startswith("answers as master"), "ha-lizard status shows why"

    master_cycle.run(new_ctx)
    assert _count(lines, "INFO", "pool.recover_slaves: host1 follow this master now") == 1, lines
    with open(os.path.join(old["root"], "etc", "xensource", "pool.conf")) as handle:
        assert handle.read().strip() == "slave:" + new["address"]
    assert not is_suspended(new["root"])

    master_watch.run(pool.ctx("host1", "master_watch"))  # it follows the new master: the flag goes
    assert not is_suspended(old["root"])
