"""Property checks over many random pools (plain seeded loops, no extra dependency)."""

import random

from core_builders import GIB, POOL, host, policy, pool, vm
from halizard.core import actions as A
from halizard.core import fencing, health, quorum, timing, vm_plan
from halizard.core.health import ProbeResult

STATES = ("Running", "Halted", "Halted", "Suspended", "Paused")


def random_pool(rng):
    n = rng.randint(1, 6)
    hosts = [host("h%d" % i, is_master=(i == 1), enabled=rng.random() > 0.15,
                  health_field=rng.choice(["healthy", "failed", "", "master"]),
                  memory_free=rng.randint(0, 8) * GIB) for i in range(1, n + 1)]
    vms = []
    for i in range(rng.randint(0, 30)):
        st = rng.choice(STATES)
        resident = rng.choice(hosts).uuid if st in ("Running", "Paused") else None
        vms.append(vm("v%02d" % i, power_state=st, resident_on=resident, memory=rng.randint(0, 3) * GIB,
                      order=rng.randint(0, 3), start_delay=rng.randint(0, 5),
                      ha_restart_priority=rng.choice(["", "restart", "best-effort"]),
                      ha_field=rng.choice([None, "true", "false", "junk"]),
                      home_pool=rng.choice([POOL, POOL, None, "other"]),
                      is_control_domain=rng.random() < 0.05, is_a_template=rng.random() < 0.05,
                      current_operations=("start",) if rng.random() < 0.05 else ()))
    return pool(hosts, vms)


def random_policy(rng):
    return policy(GLOBAL_VM_HA=rng.randint(0, 1), HOST_SELECT_METHOD=rng.randint(0, 1),
                  VM_RESPECT_OPERATOR_STOP=rng.randint(0, 1))


def test_vm_plan_invariants():
    rng = random.Random(1234)
    for _ in range(400):
        pv = random_pool(rng)
        pol = random_policy(rng)
        stopped = {v.uuid for v in pv.vms if rng.random() < 0.2}
        plan = vm_plan.plan(pv, pol, operator_stopped=stopped)
        starts = plan.starts
        ids = [s.vm_uuid for s in starts]
        assert len(ids) == len(set(ids)), "two starts for one VM"
        assert len(plan.statuses) == len(pv.vms)
        for s in starts:
            v = pv.vm(s.vm_uuid)
            assert v.power_state == "Halted" and not v.current_operations
            assert not (v.is_control_domain or v.is_a_template or v.is_a_snapshot)
            assert v.home_pool == POOL
            assert not (pol.VM_RESPECT_OPERATOR_STOP and v.uuid in stopped)
            assert s.why
            if pol.HOST_SELECT_METHOD == 0:
                h = pv.host(s.host_uuid)
                assert h.enabled and h.health_field in ("healthy", "master")
        if pol.HOST_SELECT_METHOD == 0:
            used = {}
            for s in starts:
                used[s.host_uuid] = used.get(s.host_uuid, 0) + pv.vm(s.vm_uuid).memory
            for h, mem in used.items():
                assert mem <= pv.host(h).memory_free, "placement over capacity"
        # groups: best-effort strictly after the others, orders ascending within each class
        keys = [(g.best_effort, g.order) for g in plan.groups]
        assert keys == sorted(keys)
        # what is protected, halted and eligible but not started is reported, never dropped
        for st in plan.statuses:
            if st.reason == vm_plan.Reason.WILL_START:
                assert st.vm_uuid in ids


def test_never_a_restart_for_a_host_not_proven_dead():
    rng = random.Random(99)
    pv = pool(vms=[vm("v1", power_state="Running", resident_on="h2")])
    for _ in range(3000):
        pol = policy(FENCE_ENABLED=rng.randint(0, 1), FENCE_HA_ONFAIL=rng.randint(0, 1),
                     FENCE_METHOD=rng.choice(["POOL", "XVM"]), FENCE_QUORUM_REQUIRED=rng.randint(0, 1),
                     FENCE_HEURISTICS_IPS=rng.choice(["", "127.0.0.1"]), FENCE_MIN_HOSTS=rng.randint(1, 4),
                     XAPI_COUNT=rng.randint(1, 3))
        tries = rng.randint(0, 3)
        net = rng.choice([True, False, None])
        probe = rng.choice([None, ProbeResult(tries=tries, xapi_ok=rng.random() < 0.2, network_ok=net,
                                              first_failure_at=rng.choice([None, 0.0, 50.0]))])
        reach = [h for h in ("h1", "h3") if rng.random() < 0.5]
        q = quorum.compute("h1", ["h1", "h2", "h3"], reach, rng.choice([None, True, False]), pol)
        outcome = rng.choice([None, fencing.FENCE_VERIFIED, fencing.FENCE_FAILED, fencing.FENCE_UNKNOWN])
        now = rng.uniform(0, 400)
        d = fencing.decide_host_failure(pv, "h2", probe, q, pol, now, outcome)
        released = any(isinstance(a, (A.ResetVmPowerState, A.RestartVmsOf)) for a in d.actions)
        assert released == (d.proof is not None)
        if d.proof == fencing.PROOF_FENCED:
            assert outcome == fencing.FENCE_VERIFIED
        elif d.proof == fencing.PROOF_DEADLINE:
            v = health.classify(probe, pol)
            assert v.state == health.FAILED and v.isolated and q.strict_majority
            assert now >= probe.first_failure_at + timing.recovery_wait(pol)
            assert outcome != fencing.FENCE_VERIFIED
            if fencing.uses_agent(pol) and outcome is not None:
                assert pol.FENCE_HA_ONFAIL


def test_no_split_ever_gives_two_sides_quorum_without_heuristics():
    rng = random.Random(7)
    pol = policy()
    for _ in range(500):
        n = rng.randint(1, 7)
        hs = ["h%d" % i for i in range(n)]
        side = set(rng.sample(hs, rng.randint(1, n)))
        rest = [h for h in hs if h not in side]
        a = quorum.compute(sorted(side)[0], hs, side, None, pol)
        if rest:
            b = quorum.compute(rest[0], hs, rest, None, pol)
            assert not (a.has_quorum and b.has_quorum)
