"""Master: fence a failed slave, release what it held, restart its protected VMs elsewhere.

Why: a failed slave's VMs must come back quickly and never run twice. The
core (fencing.decide_host_failure) says what proves death: a verified fence
(agent) or the self-fence deadline; this module carries the steps out for
every failed slave at once (one thread per host), remembers fence outcomes
and released hosts in state files (`fence-outcomes`, `recovery`) so a later
cycle continues instead of repeating, and restarts the VMs in VM.order
groups, in parallel within a group, on usable hosts (core vm_plan).
"""
import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

from halizard.core import actions as A
from halizard.core import fencing, health, vm_plan
from halizard.core.model import HALTED, PoolView
from halizard.probes.deadline import after
from halizard.xapi import act_host

OUTCOMES_STATE = "fence-outcomes"
RECOVERY_STATE = "recovery"


def fence_seconds(policy):
    """Time a fence may take: a hung agent ends at this deadline (counted as failed)."""
    return max(10.0, 3.0 * policy.XE_TIMEOUT)


class Recovery:
    """Everything one cycle's recovery needs; `handle(uuid)` is safe to run in parallel per host."""

    def __init__(self, session, pool, policy, probes, quorum_result, usable, agent_factory, still_alive,
                 alert, log, health_key, now=None, state=None):
        self.session = session
        self.pool = pool
        self.policy = policy
        self.probes = probes
        self.quorum = quorum_result
        self.usable = set(usable)
        self.agent_factory = agent_factory
        self.still_alive = still_alive
        self.alert = alert
        self.log = log
        self.health_key = health_key
        self.now = now or time.time
        self.state = state

    def fence(self, host_uuid, action):
        """Run the agent (never raises); the core's outcome string plus the agent's detail."""
        from halizard.fence.base import FenceConfigError
        from halizard.fence.confirm import fence_host
        try:
            agent = self.agent_factory()
        except FenceConfigError as exc:
            return fencing.FENCE_FAILED, "no fence agent: %s" % exc
        host = self.pool.host(host_uuid)
        result = fence_host(agent, host_uuid, action, after(fence_seconds(self.policy)),
                            still_alive=(lambda d: self.still_alive(host.address, d)) if host else None)
        return fencing.outcome_of(result.verified, result.state), result.detail

    def handle(self, host_uuid, outcome, recovery_entry):
        """One failed host: (new fence outcome or None, recovery entry or None, report text)."""
        name = (self.pool.host(host_uuid).name_label or host_uuid)
        probe = self.probes.get(host_uuid)
        decision = fencing.decide_host_failure(self.pool, host_uuid, probe, self.quorum, self.policy,
                                               self.now(), outcome)
        fence_action = next((a for a in decision.actions if isinstance(a, A.FenceHost)), None)
        if fence_action is not None:
            self.log.warning("fencing {}: {}", name, fence_action.why)
            outcome, detail = self.fence(host_uuid, fence_action.fence_action)
            self.log.log("INFO" if outcome == fencing.FENCE_VERIFIED else "ERROR",
                         "fence of {} {}: {}", name, outcome, detail)
            decision = fencing.decide_host_failure(self.pool, host_uuid, probe, self.quorum, self.policy,
                                                   self.now(), outcome)
        for action in decision.actions:
            if isinstance(action, A.Alert):
                self.alert(action.function, action.text)
        if decision.proof is None:
            return outcome, recovery_entry, decision.why
        if recovery_entry is None:
            recovery_entry = self.release(host_uuid, decision)
            if self.state is not None:  # kept at once: a cycle cut off during the restarts resumes them
                self.state.update(RECOVERY_STATE, lambda cur: dict(cur or {}, **{host_uuid: recovery_entry}), {})
                self.state.update(OUTCOMES_STATE, lambda cur: dict(cur or {}, **{host_uuid: outcome})
                                  if outcome == fencing.FENCE_VERIFIED else (cur or {}), {})
        started = self.restart(recovery_entry["vms"])
        return outcome, recovery_entry, "%s; %s" % (decision.why, started)

    def release(self, host_uuid, decision):
        """Mark failed, reset VM power states, clear disk markers, forget: the recovery entry."""
        vms = [a.vm_uuid for a in decision.actions if isinstance(a, A.ResetVmPowerState)]
        # In the core's order; the many per-VM and per-disk calls of one step run at once.
        steps = [(A.SetHostHealth,), (A.ResetVmPowerState,), (A.ClearVdiMarker,), (A.ForgetHost,)]
        for kinds in steps:
            batch = [a for a in decision.actions if isinstance(a, kinds)]
            if not batch:
                continue
            with ThreadPoolExecutor(max_workers=max(1, min(self.policy.VM_START_CONCURRENCY, len(batch))),
                                    thread_name_prefix="release") as pool:
                results = list(pool.map(lambda a: act_host.execute(self.session, a, self.health_key), batch))
            failed = [detail for ok, detail in results if not ok]
            for detail in failed:
                self.log.error("release of {}: {}", host_uuid, detail)
            self.log.info("release of {}: {} of {} {} done", host_uuid, len(batch) - len(failed), len(batch),
                          kinds[0].__name__)
        return {"proof": decision.proof, "at": self.now(), "vms": vms}

    def restart(self, vm_uuids):
        """Start the still-halted, protected VMs among `vm_uuids` (vm_plan order/placement)."""
        from halizard.jobs.master_cycle import read_pool
        pool = read_pool(self.session, self.health_key)
        wanted = set(vm_uuids)
        pool = _home(pool, wanted)
        plan = vm_plan.plan(pool, self.policy, usable_hosts=self.usable, now=self.now())
        total = ok = 0
        for group in plan.groups:
            starts = [s for s in group.starts if s.vm_uuid in wanted]
            if not starts:
                continue
            total += len(starts)
            ok += sum(start_parallel(self.session, starts, self.policy.VM_START_CONCURRENCY, self.log))
            if group.delay_after:
                time.sleep(min(group.delay_after, 60))
        halted = [v.uuid for v in pool.vms if v.uuid in wanted and v.power_state == HALTED]
        unplaced = [s.name_label for s in plan.unplaced if s.vm_uuid in wanted]
        text = "%d of %d VMs started" % (ok, total)
        if unplaced:
            text += "; no room for %s" % ", ".join(unplaced)
        if not halted:
            text = "every VM of the host runs again"
        return text


def _home(pool, wanted):
    """The view with the dead host's VMs stamped as at home here: they ran in this pool."""
    vms = []
    for v in pool.vms:
        if v.uuid in wanted and v.home_pool is None:
            v = dataclasses.replace(v, home_pool=pool.uuid)
        vms.append(v)
    return PoolView(uuid=pool.uuid, master_uuid=pool.master_uuid, hosts=pool.hosts, vms=tuple(vms),
                    appliances=pool.appliances, vdis=pool.vdis, ha_field=pool.ha_field,
                    native_ha_enabled=pool.native_ha_enabled, autopromote_uuid=pool.autopromote_uuid)


def start_one(session, start, log):
    """Start one VM on its planned host, else wherever XAPI places it; True when it started."""
    from halizard.xapi.errors import XapiError
    try:
        act_host.start_vm(session, start.vm_uuid, start.host_uuid)
        return True
    except XapiError as exc:
        if start.host_uuid is None:
            log.error("VM {} did not start: {}", start.vm_uuid, exc)
            return False
        log.warning("VM {} did not start on its planned host ({}); letting XAPI place it", start.vm_uuid, exc)
    try:
        act_host.start_vm(session, start.vm_uuid, None)
        return True
    except XapiError as exc:
        log.error("VM {} did not start: {}", start.vm_uuid, exc)
        return False


def start_parallel(session, starts, concurrency, log):
    """Start `starts` at once (at most `concurrency` at a time); a list of booleans."""
    if not starts:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(int(concurrency), len(starts))),
                            thread_name_prefix="vmstart") as pool:
        return list(pool.map(lambda s: start_one(session, s, log), starts))


def recover_failed(rec, state, verdicts):
    """Run `rec.handle` for every failed host in parallel; forget hosts that answer again.

    Returns {host uuid: report text}.
    """
    rec.state = state
    outcomes = state.read(OUTCOMES_STATE, {}) or {}
    recovery = state.read(RECOVERY_STATE, {}) or {}
    failed = [u for u, v in verdicts.items() if v.state == health.FAILED]
    for uuid, v in verdicts.items():
        if v.state == health.HEALTHY:
            outcomes.pop(uuid, None)
            recovery.pop(uuid, None)
    report = {}
    if failed:
        with ThreadPoolExecutor(max_workers=len(failed), thread_name_prefix="recover") as pool:
            futures = {u: pool.submit(rec.handle, u, outcomes.get(u), recovery.get(u)) for u in failed}
            for uuid, future in futures.items():
                try:
                    outcome, entry, text = future.result()
                except Exception as exc:  # noqa: BLE001 - one host's trouble must not stop the others
                    rec.log.error("recovery of {} failed: {}", uuid, type(exc).__name__)
                    report[uuid] = "recovery failed: %s" % type(exc).__name__
                    continue
                if outcome == fencing.FENCE_VERIFIED:  # anything else is tried again next cycle
                    outcomes[uuid] = outcome
                if entry is not None:
                    recovery[uuid] = entry
                report[uuid] = text
    state.write(OUTCOMES_STATE, outcomes)
    state.write(RECOVERY_STATE, recovery)
    return report
