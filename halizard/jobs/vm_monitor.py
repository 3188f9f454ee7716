"""Job `vm_monitor`: the periodic full sweep that keeps protected VMs running.

Why: event-driven detection (vm_events) is fast but a stream can break; this
sweep sees the whole pool every MONITOR_DELAY (through the event-driven view,
halizard.xapi.view: one event.from per run) and runs the same decision
(halizard.core.vm_plan) as the safety net. It runs on the master, and on a
slave only with SLAVE_VM_STAT=1 (XAPI declines the loser of a race to start
a VM, so two hosts never start it twice).

`protect()` is the one place a plan is executed; vm_events calls it too.
Runs of both jobs on one host are serialised by a lock file, so they never
race each other; retry back-off and operator-stop intent live in state files.
"""
import collections
from concurrent.futures import ThreadPoolExecutor

from halizard.config import refusal
from halizard.config.effective import policy_of
from halizard.core import backoff, cycle, roles, vm_plan
from halizard.core import actions as A
from halizard.core import intent as intent_mod
from halizard.core.backoff import RetryState
from halizard.jobs.action_lock import FIX_LOCK_FILE, ActionLock
from halizard.jobs.base import Clocks, Outcome, Report
from halizard.ops import journal, whatif
from halizard.statefiles import StateStore
from halizard.suspension import is_suspended  # noqa: F401 - re-exported: the VM jobs honour every suspension flag
from halizard.xapi import act
from halizard.xapi.errors import XapiError
from halizard.xapi.observe import read_snapshot
from halizard.xapi.view import watch

INTENT_STATE = intent_mod.STATE_NAME
RETRY_STATE = "vm-retry"
REPORT_STATE = "vm-protection"
READ_WAIT = 20.0  # seconds a VM job waits for a running recovery before it reads the pool
FIX_CONCURRENCY = 8  # parallel HA-field / home-pool writes
MAX_GROUP_DELAY = 600.0


# --- small readers ---------------------------------------------------------------------------
def load_retry(state):
    """vm/appliance uuid -> RetryState from the state file (malformed entries dropped)."""
    out = {}
    for uuid, entry in (state.read(RETRY_STATE, {}) or {}).items():
        retry = load_retry_entry(entry)
        if retry is not None:
            out[uuid] = retry
    return out


def load_retry_entry(entry):
    try:
        return RetryState(int(entry["failures"]), float(entry["next_attempt_at"]), bool(entry.get("alerted")))
    except (KeyError, TypeError, ValueError):
        return None


def _retry_plain(retry):
    return {"failures": retry.failures, "next_attempt_at": retry.next_attempt_at, "alerted": retry.alerted}


load_intent = intent_mod.load


def safe_policy(config, state, log):
    """(Policy, None), or (None, why) when HA must not act on `config`: said once (config.refusal)."""
    return refusal.checked_policy(config, state, log, "VM protection", "refuses to start VMs")


def xe_timeout(config):
    return float(config.get("XE_TIMEOUT") or 10)


# --- the round -------------------------------------------------------------------------------
class PoolRead(collections.namedtuple("PoolRead", "session snapshot config")):
    """What connect_and_read gives a round: the session, the pool snapshot, the effective configuration."""


class How(collections.namedtuple("How", "trigger lock_wait deadline on_call")):
    """How a round runs: its trigger ("sweep", "event"), how long it waits for the VM action lock,
    the wall-clock epoch after which no new group starts (None: none), the starter's on_call hook."""

    def __new__(cls, trigger="sweep", lock_wait=0.0, deadline=None, on_call=None):
        return super().__new__(cls, trigger, lock_wait, deadline, on_call)


def decide(snapshot, policy, intent, retry, now):
    """The core plan for this snapshot (pure)."""
    return vm_plan.plan(snapshot.pool, policy, operator_stopped=intent.operator_stopped, retry=retry,
                        usable_hosts=snapshot.usable_hosts(), now=now)


def _idle_why(env, snapshot, policy, is_master):
    """Why this host must not start VMs now (pool HA off, a suspension, a slave...), or None."""
    gate = cycle.ha_enabled(snapshot.pool, policy)
    if not gate.proceed:
        return gate.why
    allowed = roles.may_start_vms(is_master, is_suspended(env.root), None, False, policy)
    return None if allowed.allowed else allowed.why


def protect(env, read, is_master, how=How()):
    """Decide and act once for this PoolRead; a report dict, or None when another run holds the lock."""
    policy, refused = safe_policy(read.config, env.state, env.log)
    if policy is None:
        return {"acted": False, "why": refused}
    idle = _idle_why(env, read.snapshot, policy, is_master)
    if idle is not None:
        env.log.debug("VM protection idle: {}", idle)
        return {"acted": False, "why": idle}
    lock = ActionLock(env.root)
    if not lock.acquire(how.lock_wait):
        return None
    acted = False
    try:
        if lock.changed_since(read.snapshot.taken_at):  # another job started or released VMs since the read
            snapshot = watch(env.root, env.state, env.log).snapshot(read.session, read.config.xc_field_key,
                                                                    timeout=xe_timeout(read.config))
            read = read._replace(snapshot=snapshot)
        rnd = _Round(env, read, policy, how)
        rnd.run()
        acted = bool(rnd.report["started"] or rnd.report["declined"] or rnd.report["failed"])
    finally:
        lock.release(acted=acted)
    if is_master and rnd.plan.fixes:
        # HA-field and home-pool corrections start nothing: outside the action lock, so hundreds of
        # them (a new pool) never keep a recovery waiting; their own lock keeps two runs from both doing them.
        fix_lock = ActionLock(env.root, name=FIX_LOCK_FILE)
        if fix_lock.acquire(0.0):
            try:
                rnd.apply_fixes()
            finally:
                fix_lock.release()
    return rnd.report


class _Round:
    """One plan for one snapshot, carried out: the starts group by group, the appliances, the record."""

    def __init__(self, env, read, policy, how):
        self.env, self.read, self.policy, self.how = env, read, policy, how
        self.snapshot, self.log = read.snapshot, env.log
        now = env.clock.wall()
        self.plan = decide(self.snapshot, policy, load_intent(env.state), load_retry(env.state), now)
        self.report = {"acted": True, "trigger": how.trigger, "at": now, "started": [], "declined": [],
                       "failed": [], "unplaced": [s.name_label or s.vm_uuid for s in self.plan.unplaced]}

    def run(self):
        for status in self.plan.unplaced:
            self.log.warning("VM {} not started: {}", status.name_label or status.vm_uuid, status.why)
        starter = act.Starter(self.read.session, self.snapshot, self.snapshot.usable_hosts(),
                              call_timeout=xe_timeout(self.read.config), log=self.log, on_call=self.how.on_call)
        self._start_groups(starter)
        for start in self.plan.appliance_starts:
            self.record([starter.start_appliance(start)], appliance=True)
        self.env.state.write(REPORT_STATE, {k: self.report[k] for k in ("trigger", "at", "started", "declined",
                                                                        "failed", "unplaced")})

    def _start_groups(self, starter):
        """The VM.order groups, one after the other with their delays, until the run's deadline nears."""
        clock, deadline, groups = self.env.clock, self.how.deadline, self.plan.groups
        for index, group in enumerate(groups):
            if deadline is not None and clock.wall() >= deadline:
                self.log.warning("VM starts left for the next run: the run's deadline is near")
                break
            results = starter.start_many(group.starts, self.policy.VM_START_CONCURRENCY,
                                         on_done=lambda r: _log_result(self.snapshot, r, self.log))
            self.record(results, logged=True)
            if group.delay_after and index < len(groups) - 1:
                pause = min(float(group.delay_after), MAX_GROUP_DELAY)
                if deadline is not None:
                    pause = min(pause, max(0.0, deadline - clock.wall()))
                clock.sleep(pause)

    def record(self, results, appliance=False, logged=False):
        """Log each result, keep the back-off state, alert once for a VM that keeps failing."""

        snapshot, policy = self.snapshot, self.policy
        journal.vm_results(self.env.state, snapshot.pool, () if appliance else results, snapshot.taken_at,
                           now=self.env.clock.wall(), fault="vm-down")
        now = self.env.clock.wall()
        alerts = []

        def change(current):
            current = dict(current or {})
            for result in results:
                if result.outcome == act.OK:
                    current.pop(result.vm_uuid, None)
                elif result.outcome == act.FAILED:
                    prev = load_retry_entry(current.get(result.vm_uuid))
                    new, alert = backoff.after_failure(prev, now, policy, _name(snapshot, result.vm_uuid, appliance),
                                                       result.error)
                    current[result.vm_uuid] = _retry_plain(new)
                    if alert is not None:
                        alerts.append(alert)
            return current

        self.env.state.update(RETRY_STATE, change, {})
        for result in results:
            name = _name(snapshot, result.vm_uuid, appliance)
            self.report[result.outcome.value].append(name)
            if not logged:
                _log_result(snapshot, result, self.log, appliance)
        for alert in alerts:
            self.alert(alert)

    def alert(self, alert):
        self.env.alert(alert.function, alert.text, config=self.read.config)  # never raises

    def apply_fixes(self):
        """The master's corrections: invalid/missing HA fields, home-pool stamps, operator stops kept in XAPI,
        their alerts."""

        session, config = self.read.session, self.read.config
        timeout = xe_timeout(config)
        fixes = [f for f in self.plan.fixes if isinstance(f, (A.SetVmHaField, A.StampHomePool, A.MarkOperatorStop))]
        reset = set()
        if fixes:  # independent per-VM writes: at once (a new pool stamps hundreds of VMs on the first round)
            workers = max(1, min(FIX_CONCURRENCY, len(fixes)))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vmfix") as pool:
                results = pool.map(lambda f: act.apply_fix(session, self.snapshot, f, config.xc_field_key, timeout),
                                   fixes)
                for fix, result in zip(fixes, results):
                    (self.log.info if result.done else self.log.error)("{}", result.text)
                    if result.written and isinstance(fix, A.SetVmHaField):
                        reset.add(fix.vm_uuid)
        for fix in self.plan.fixes:
            # the invalid-value alert goes out with the reset that wrote it: once, whichever round did
            if isinstance(fix, A.Alert) and (fix.reset_of is None or fix.reset_of in reset):
                self.alert(fix)


def _log_result(snapshot, result, log, appliance=False):
    """One line per start, at the time it finished."""

    name = _name(snapshot, result.vm_uuid, appliance)
    if result.outcome == act.OK:
        log.info("{} {} started{}", "appliance" if appliance else "VM", name,
                 "" if appliance else " on %s" % _host_name(snapshot, result.host_uuid))
    elif result.outcome == act.DECLINED_RESULT:
        log.info("start of {} declined by XAPI ({}): someone else is starting it or it runs", name, result.error)
    else:
        log.error("{} did not start: {}", name, result.error)


def _name(snapshot, uuid, appliance=False):
    if appliance:
        for app in snapshot.pool.appliances:
            if app.uuid == uuid:
                return app.name_label or uuid
        return uuid
    vm = snapshot.pool.vm(uuid)
    return (vm.name_label or uuid) if vm else uuid


def _host_name(snapshot, host_uuid):
    if host_uuid is None:
        return "the host XAPI chose"
    host = snapshot.pool.host(host_uuid)
    return (host.name_label or host_uuid) if host else host_uuid


# --- the job ---------------------------------------------------------------------------------
def acting_role(env):
    """(is_master, acts): a slave acts only with SLAVE_VM_STAT=1."""
    role = env.role()
    if role == "master":
        return True, True
    if role == "slave":
        try:
            return False, bool(int(env.config.get("SLAVE_VM_STAT") or 0))
        except (TypeError, ValueError):
            return False, False
    return False, False


def connect_and_read(env, timeout, session=None, read_wait=READ_WAIT):
    """A PoolRead (session, snapshot, effective config), or raises XapiError; reuses `session` when given.

    Waits up to `read_wait` seconds for a recovery holding the VM action lock first.
    """

    ActionLock(env.root).wait_free(read_wait)  # a recovery starting VMs right now: read after it
    if session is None:
        session = env.connect(timeout)
    try:
        key = env.effective(pool_other_config={}).xc_field_key
        view = watch(env.root, env.state)  # event-driven: one event.from per run, whatever the VM count (issue 16)
        snapshot = view.snapshot(session, key, timeout=timeout)
        config = env.effective(pool_other_config=snapshot.pool_other_config)
        if config.xc_field_key != key:  # XC_FIELD_NAME set in the pool: the same records, seen with it
            snapshot = view.snapshot(session, config.xc_field_key, timeout=timeout, fresh=False)
    except Exception:
        session.logout()
        raise
    return PoolRead(session, snapshot, config)


def run(env):
    """One sweep; returns a Report (FAILED when the pool could not be read)."""

    is_master, acts = acting_role(env)
    if not acts:
        return Report(Outcome.IDLE, "VM sweep not run here: %s" % ("slave without SLAVE_VM_STAT" if env.role()
                                                                   else "this host's pool role is unknown"))
    timeout = xe_timeout(env.config)
    remaining = env.remaining()
    if remaining is not None:
        timeout = max(0.5, min(timeout, remaining / 3.0))
    read_wait = READ_WAIT if remaining is None else max(0.0, min(READ_WAIT, remaining / 3.0))
    try:
        read = connect_and_read(env, timeout, read_wait=read_wait)
    except XapiError as exc:
        return Report(Outcome.FAILED, "VM sweep skipped: the pool could not be read (%s)" % type(exc).__name__)
    try:
        report = protect(env, read, is_master, How("sweep", deadline=env.deadline))
        if is_master:  # issue 17: failure tolerance, stored for metrics/status, alert when short
            whatif.check(env.root, read.session, read.config, env.state, env.log, env.clock.wall(), read.snapshot)
    finally:
        read.session.logout()
    return sweep_report(report)


def sweep_report(report):
    """The run's Report from protect's report dict."""
    if report is None:
        return Report(Outcome.IDLE, "VM sweep: the event job is acting right now; nothing to do")
    if not report.get("acted"):
        return Report(Outcome.IDLE, "VM sweep idle: %s" % report.get("why"))
    counts = (len(report["started"]), len(report["failed"]), len(report["declined"]))
    text = "VM sweep: started %d, failed %d, declined %d" % counts
    if report["unplaced"]:
        text += ", %d without a host" % len(report["unplaced"])
    if counts[1]:
        return Report(Outcome.DEGRADED, text, report)
    return Report(Outcome.DONE if counts[0] else Outcome.QUIET, text, report)


# --- why each VM is or is not protected (ha-cfg get-vm-ha) ---------------------------------
def vm_reasons(root, session, config, now=None):
    """[{uuid, name_label, power_state, protected, reason, why}] for every VM, as this cycle would decide.

    Uses the same plan as the jobs: mode, HA field, home pool, the operator
    stops and back-off this host recorded, placement (no capacity). Control
    domains, templates and snapshots are left out (never managed).
    """

    snapshot = read_snapshot(session, config.xc_field_key)
    policy = policy_of(config)
    state = StateStore(root)
    plan = decide(snapshot, policy, load_intent(state), load_retry(state),
                  Clocks.wall() if now is None else now)
    gate = cycle.ha_enabled(snapshot.pool, policy)
    rows = []
    for vm in snapshot.pool.vms:
        status = plan.status_of(vm.uuid)
        if status is None or status.reason in vm_plan.NEVER_MANAGED:
            continue
        if not gate.proceed:  # nothing is protected while pool HA is off
            rows.append({"uuid": vm.uuid, "name_label": vm.name_label, "power_state": vm.power_state,
                         "protected": False, "reason": vm_plan.Reason.POOL_HA_OFF.value, "why": gate.why})
            continue
        rows.append({"uuid": vm.uuid, "name_label": vm.name_label, "power_state": vm.power_state,
                     "protected": status.protected, "reason": status.reason.value, "why": status.why})
    return rows
