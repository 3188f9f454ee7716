"""Master: fence a failed slave, release what it held, restart its protected VMs elsewhere.

Why: a failed slave's VMs must come back quickly and never run twice. The
core (fencing.decide_host_failure) says what proves death: a verified fence
(agent) or the self-fence deadline; this module carries the steps out for
every failed slave at once (one thread per host), remembers fence outcomes
and released hosts in state files (`fence-outcomes`, `recovery`) so a later
cycle continues instead of repeating, and restarts the VMs in VM.order
groups, in parallel within a group, on usable hosts (core vm_plan).
"""
import collections
import dataclasses
import functools
import threading
from concurrent.futures import ThreadPoolExecutor

from halizard.config import refusal
from halizard.config.effective import safety_problem
from halizard.core import actions as A
from halizard.core import fencing, health, vm_plan
from halizard.core.model import HALTED, RUNNING
from halizard.fence.base import FenceConfigError
from halizard.fence.confirm import fence_host
from halizard.fence.registry import agent_from_config
from halizard.jobs.action_lock import ActionLock
from halizard.ops import journal
from halizard.probes.deadline import after
from halizard.probes.still_alive import host_still_answers
from halizard.xapi import act, act_host, takeover_ops
from halizard.xapi.errors import XapiError
from halizard.xapi.pool_view import read_pool

OUTCOMES_STATE = "fence-outcomes"
RECOVERY_STATE = "recovery"
RELEASE_CONCURRENCY = 16  # parallel release calls (resets, disk-marker clears) of one dead host


def fence_seconds(policy):
    """Time a fence may take: a hung agent ends at this deadline (counted as failed)."""
    return max(10.0, 3.0 * policy.XE_TIMEOUT)


class Cycle(collections.namedtuple("Cycle", "pool policy probes quorum usable read_at")):
    """What the master cycle read and judged, for the recovery: the pool view and when it was read
    (`read_at`, wall clock: a VM job acting after it makes the view stale), the policy, the probes of
    the slaves, the quorum, the hosts VMs may be started on."""


class Recovery:
    """Everything one cycle's recovery needs; `handle(uuid)` is safe to run in parallel per host.

    The Env gives the clocks (boot: every interval of a proof of death; wall: VM start retries, entry
    times), the state store, the log, the alerts and the platform. `agent_factory` and `still_alive`
    default to the configured fence agent and the platform's probe; tests give their own.
    """

    def __init__(self, env, session, config, cycle, agent_factory=None, still_alive=None):
        self.env = env
        self.session = session
        self.config = config  # EffectiveConfig: its policy() refuses an unsafe configuration
        self.pool = cycle.pool
        self.policy = cycle.policy
        self.probes = cycle.probes
        self.quorum = cycle.quorum
        self.usable = set(cycle.usable)
        self.agent_factory = agent_factory or self._agent
        self.still_alive = still_alive or self._still_alive
        self.log = env.log
        self.state = env.state
        self.health_key = config.xc_field_key if config is not None else cycle.policy.ha_field_key
        self.call_timeout = float(self.policy.XE_TIMEOUT)
        self.lock_wait = max(30.0, 3.0 * float(self.policy.XE_TIMEOUT))  # a VM job's round of starts
        self.restarted = []  # (vm uuid, host uuid) started by this cycle, for placement of the next host
        self.vm_refs = {}    # vm uuid -> ref, learnt during the release
        self.view_at = float(cycle.read_at)
        self._turn = threading.Lock()
        self._refusal = None

    def _agent(self):
        return agent_from_config(self.config, self.env.root)

    def _still_alive(self, address, deadline):
        platform = self.env.platform
        return host_still_answers(platform, address, deadline, platform.source_address())

    def alert(self, function, text):
        self.env.alert(function, text, config=self.config, session=self.session)  # never raises

    def _wall_of(self, boot_seconds):
        """The wall-clock time of an instant of the boot clock: for the journal people read only."""
        clock = self.env.clock
        return clock.wall() - (clock.boot() - boot_seconds)

    def decide(self, host_uuid, probe, outcome):
        """The core's decision for one failed host; the timed proof counts only when no peer this host
        reaches (by network or xapi) may still reach it (fencing.still_seen_by over the slaves' published
        views)."""
        reached = {u for u, p in (self.probes or {}).items() if p is not None and (p.xapi_ok or p.network_ok)}
        seen_by = fencing.still_seen_by(self.pool, host_uuid, reached, self.pool.master_uuid)
        decision = fencing.decide_host_failure(self.pool, host_uuid, probe, self.quorum, self.policy,
                                               self.env.clock.boot(), outcome)
        return fencing.unless_still_seen(decision, self.pool, host_uuid, seen_by)

    def fence(self, host_uuid, action):
        """Run the agent (never raises); the core's FenceOutcome plus the agent's detail."""
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
        decision = self.decide(host_uuid, probe, outcome)
        fence_action = next((a for a in decision.actions if isinstance(a, A.FenceHost)), None)
        failed_since = getattr(probe, "first_failure_at", None)  # boot clock (probes.clock); the journal is wall time
        journal.record(self.state, "host-failed", decision.why, subject=name,
                       now=self.env.clock.wall() if failed_since is None else self._wall_of(failed_since))
        if fence_action is not None:
            self.log.warning("fencing {}: {}", name, fence_action.why)
            outcome, detail = self.fence(host_uuid, fence_action.fence_action)
            self.log.log("INFO" if outcome == fencing.FENCE_VERIFIED else "ERROR",
                         "fence of {} {}: {}", name, outcome, detail)
            journal.record(self.state, "fenced", detail, subject=name, now=self.env.clock.wall(),
                           method=self.policy.FENCE_METHOD, outcome=outcome.value)
            decision = self.decide(host_uuid, probe, outcome)
        for action in decision.actions:
            if isinstance(action, A.Alert):
                self.alert(action.function, action.text)
        if decision.proof is None:
            return outcome, recovery_entry, decision.why
        refused = self.refusal()
        if refused:
            return outcome, recovery_entry, "%s; nothing released or restarted: %s" % (decision.why, refused)
        # One host's release + restart at a time, under the VM action lock: no VM job plans or starts
        # from a view taken before the release while this host's VMs are being started.
        with self._turn:
            lock = self._vm_lock()
            if lock is not None and not lock.acquire(self.lock_wait):
                self.log.warning("release of {} waits for the next cycle: another VM job holds the VM action lock",
                                 name)
                return outcome, recovery_entry, "%s; release waits: another VM job is starting VMs" % decision.why
            try:
                if lock is not None and lock.changed_since(self.view_at):
                    # another job released or started VMs after this cycle read the pool: read it again
                    # and decide again from what XAPI says now (the fence outcome stands)
                    self.refresh()
                    decision = self.decide(host_uuid, probe, outcome)
                    if decision.proof is None:
                        return outcome, recovery_entry, decision.why
                if recovery_entry is None:
                    recovery_entry, halted = self.release(host_uuid, decision)
                    journal.record(self.state, "released", decision.why, subject=name, now=self.env.clock.wall(),
                                   vms=len(recovery_entry["vms"]))
                    if self.state is not None:  # kept at once: a cycle cut off during the restarts resumes them
                        entry = recovery_entry
                        self.state.update(RECOVERY_STATE, lambda cur: dict(cur or {}, **{host_uuid: entry}), {})
                        verified = {host_uuid: fencing.FENCE_VERIFIED.value}
                        self.state.update(OUTCOMES_STATE, lambda cur: dict(cur or {}, **verified)
                                          if outcome == fencing.FENCE_VERIFIED else (cur or {}), {})
                else:  # resumed: resets that failed last time (still running there in the database) again
                    halted = self.reset_stuck(host_uuid, recovery_entry["vms"])
                started = self.restart(recovery_entry["vms"], halted)
            finally:
                if lock is not None:
                    lock.release(acted=True)
        return outcome, recovery_entry, "%s; %s" % (decision.why, started)

    def refresh(self):
        """Read the pool again (after another job acted on VMs); earlier starts are part of it then."""
        read_at = self.env.clock.wall()
        self.pool = read_pool(self.session, self.health_key)
        self.view_at = read_at
        self.restarted = []
        self.log.info("the pool was read again: another VM job acted since this cycle read it")

    def refusal(self):
        """Why this configuration must not fence-and-restart (UnsafeConfig text), or None; logged once."""
        if self._refusal is None:
            if self.config is not None:
                text = refusal.why_unsafe(self.config) or ""
            else:
                problem = safety_problem(dataclasses.asdict(self.policy))
                text = "unsafe configuration, HA will not act: %s" % problem if problem else ""
            self._refusal = text
            refusal.say(self.state, self.log, "slave recovery", "slave recovery refused: %s" % text if text else None)
        return self._refusal or None

    def release(self, host_uuid, decision):
        """Mark failed, reset VM power states, clear disk markers, forget: (recovery entry, VMs reset).

        The host is forgotten last (the core's order); marking it failed,
        the per-VM resets and the per-disk marker clears are independent
        under the VM action lock, so they all run at once
        (RELEASE_CONCURRENCY, not VM_START_CONCURRENCY: that one paces VM
        starts only).
        """
        vms = [a.vm_uuid for a in decision.actions if isinstance(a, A.ResetVmPowerState)]
        first = [a for a in decision.actions if isinstance(a, A.SetHostHealth)]
        resets = [a for a in decision.actions if isinstance(a, A.ResetVmPowerState)]
        clears = [a for a in decision.actions if isinstance(a, A.ClearVdiMarker)]
        last = [a for a in decision.actions if isinstance(a, A.ForgetHost)]
        # The health field goes with the first batch instead of before it: the caller holds the VM action
        # lock, so no VM job can place anything on the dead host before the field says `failed`.
        with ThreadPoolExecutor(max_workers=RELEASE_CONCURRENCY, thread_name_prefix="clear") as pool:
            marked = pool.submit(self._run_logged, host_uuid, first)
            cleared = [pool.submit(takeover_ops.with_retries,
                                   functools.partial(act_host.execute, self.session, a, self.health_key))
                       for a in clears]
            reset = self._reset(host_uuid, resets)
            results = [f.result() for f in cleared]
            marked.result()
        for ok, detail in results:
            if not ok:
                self.log.error("release of {}: {}", host_uuid, detail)
        self.log.info("release of {}: {} of {} VM power states reset, {} of {} disk markers cleared", host_uuid,
                      len(reset), len(resets), sum(1 for ok, _d in results if ok), len(clears))
        self._run_logged(host_uuid, last)
        return {"proof": decision.proof.value, "at": self.env.clock.wall(), "vms": vms}, reset

    def _run_logged(self, host_uuid, actions):
        for action in actions:
            ok, detail = act_host.execute(self.session, action, self.health_key)
            (self.log.info if ok else self.log.error)("release of {}: {}", host_uuid, detail)

    def reset_stuck(self, host_uuid, vm_uuids):
        """Reset the power state of the VMs the database still shows on the dead host; the set reset."""
        stuck = [A.ResetVmPowerState(why="the host is dead and its earlier reset failed", vm_uuid=u)
                 for u in vm_uuids if self.pool.vm(u) is not None and self.pool.vm(u).resident_on == host_uuid
                 and self.pool.vm(u).power_state != HALTED]
        return self._reset(host_uuid, stuck)

    def _reset(self, host_uuid, actions):
        """Run ResetVmPowerState actions at once (each retried once); the VM uuids now Halted."""
        done = set()
        for _attempt in range(2):
            todo = [a for a in actions if a.vm_uuid not in done]
            if not todo:
                break
            with ThreadPoolExecutor(max_workers=max(1, min(RELEASE_CONCURRENCY, len(todo))),
                                    thread_name_prefix="reset") as pool:
                results = list(pool.map(lambda a: takeover_ops.with_retries(lambda: self._reset_one(a)), todo))
            done |= {a.vm_uuid for a, (ok, _d) in zip(todo, results) if ok}
            for detail in [d for ok, d in results if not ok]:
                self.log.warning("release of {}: {}", host_uuid, detail)
        return done

    def _reset_one(self, action):
        """One VM's power-state reset; its ref is kept for the start (no second lookup)."""
        if action.vm_uuid not in self.vm_refs:
            try:
                self.vm_refs[action.vm_uuid] = self.session.xenapi.VM.get_by_uuid(action.vm_uuid,
                                                                               timeout=self.call_timeout)
            except XapiError:
                return act_host.execute(self.session, action, self.health_key)  # reports the failure
        return takeover_ops.release_by_ref(self.session, action, {"VM": self.vm_refs})

    def restart(self, vm_uuids, halted=()):
        """Start the still-halted, protected VMs among `vm_uuids` (vm_plan order/placement).

        Uses this cycle's pool view, with `halted` (the VMs this cycle's
        release just reset) marked Halted, instead of reading the whole
        database again. The caller holds the VM action lock (handle), so no
        other VM job starts these VMs meanwhile; the starts of earlier hosts
        of this cycle are counted against free memory.
        """
        wanted = set(vm_uuids)
        pool = homed_view(released_view(self.pool, set(halted) & wanted), wanted)
        if self.restarted:  # an earlier host of this cycle started VMs: count them as placed
            pool = after_starts(pool, self.restarted)
        plan = vm_plan.plan(pool, self.policy, usable_hosts=self.usable, now=self.env.clock.wall())
        starts = [(group, [s for s in group.starts if s.vm_uuid in wanted]) for group in plan.groups]
        starter = act.Starter(self.session, act.ViewTargets(self.session, pool, self.call_timeout, self.vm_refs), self.usable,
                              call_timeout=self.call_timeout, log=self.log)
        total = ok = 0
        for index, (group, mine) in enumerate(starts):
            if not mine:
                continue
            total += len(mine)
            results = starter.start_many(mine, self.policy.VM_START_CONCURRENCY,
                                         on_done=lambda r: log_start(self.log, pool, r))
            ok += sum(1 for r in results if r.outcome != act.FAILED)
            journal.vm_results(self.state, pool, results, None, now=self.env.clock.wall())
            self.restarted.extend((r.vm_uuid, r.host_uuid) for r in results if r.ok and r.host_uuid)
            if group.delay_after and any(m for _g, m in starts[index + 1:]):
                self.env.clock.sleep(min(group.delay_after, 60))
        unplaced = [s.name_label for s in plan.unplaced if s.vm_uuid in wanted]
        text = "%d of %d VMs started" % (ok, total)
        if unplaced:
            text += "; no room for %s" % ", ".join(unplaced)
        elif ok == total:
            text = "every VM of the host runs again"
        return text

    def _vm_lock(self):
        if self.state is None or not getattr(self.state, "directory", None):
            return None
        return ActionLock(None, directory=self.state.directory)


def log_start(log, pool, result):
    vm = pool.vm(result.vm_uuid)
    name = (vm.name_label or result.vm_uuid) if vm else result.vm_uuid
    if result.outcome == act.OK:
        host = pool.host(result.host_uuid) if result.host_uuid else None
        log.info("VM {} started on {}", name, (host.name_label or host.uuid) if host else "the host XAPI chose")
    elif result.outcome == act.DECLINED_RESULT:
        log.info("start of VM {} declined by XAPI ({}): it runs or is being started", name, result.error)
    else:
        log.error("VM {} did not start: {}", name, result.error)


def released_view(pool, halted):
    """The view with the VMs the release just reset shown Halted and on no host, as XAPI has them now."""
    if not halted:
        return pool
    vms = tuple(dataclasses.replace(v, power_state=HALTED, resident_on=None) if v.uuid in halted else v
                for v in pool.vms)
    return dataclasses.replace(pool, vms=vms)


def after_starts(pool, started):
    """The view with the memory of VMs started by this cycle taken off their hosts' free memory."""
    used = {}
    for vm_uuid, host_uuid in started:
        vm = pool.vm(vm_uuid)
        if vm is not None:
            used[host_uuid] = used.get(host_uuid, 0) + vm.memory
    hosts = tuple(dataclasses.replace(h, memory_free=max(0, h.memory_free - used.get(h.uuid, 0))) for h in pool.hosts)
    running = {u for u, _h in started}
    vms = tuple(dataclasses.replace(v, power_state=RUNNING, resident_on=dict(started).get(v.uuid))
                if v.uuid in running else v for v in pool.vms)
    return dataclasses.replace(pool, hosts=hosts, vms=vms)


def homed_view(pool, wanted):
    """The view with the dead host's VMs stamped as at home here: they ran in this pool."""
    vms = tuple(dataclasses.replace(v, home_pool=pool.uuid) if v.uuid in wanted and v.home_pool is None else v
                for v in pool.vms)
    return dataclasses.replace(pool, vms=vms)


def recover_failed(rec, verdicts):
    """Run `rec.handle` for every failed host in parallel; forget the fence outcome and recovery of
    every host that is not failed this round (healthy or unknown: the failure they belonged to ended).

    Returns {host uuid: report text}.
    """
    state = rec.state
    outcomes = state.read(OUTCOMES_STATE, {}) or {}
    recovery = state.read(RECOVERY_STATE, {}) or {}
    failed = [u for u, v in verdicts.items() if v.state == health.FAILED]
    for uuid, v in verdicts.items():
        if v.state != health.FAILED:  # any change of state ends what the failure proved
            outcomes.pop(uuid, None)
            recovery.pop(uuid, None)
    report = {}
    refused = rec.refusal() if failed else None
    if refused:  # nothing is fenced, released or restarted; the cycle and the service go on
        report = {u: "not fenced, nothing restarted: %s" % refused for u in failed}
        failed = []
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
                    outcomes[uuid] = fencing.FENCE_VERIFIED.value
                if entry is not None:
                    recovery[uuid] = entry
                report[uuid] = text
    state.write(OUTCOMES_STATE, outcomes)
    state.write(RECOVERY_STATE, recovery)
    return report
