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
import time
from concurrent.futures import ThreadPoolExecutor

from halizard.jobs.action_lock import FIX_LOCK_FILE, ActionLock
from halizard.config import refusal
from halizard.config.effective import policy_of
from halizard.core import backoff, cycle, roles, vm_plan
from halizard.core import actions as A
from halizard.core import intent as intent_mod
from halizard.core.backoff import RetryState
from halizard.ops import journal, whatif
from halizard.suspension import is_suspended  # noqa: F401 - re-exported: the VM jobs honour every suspension flag

INTENT_STATE = intent_mod.STATE_NAME
RETRY_STATE = "vm-retry"
REPORT_STATE = "vm-protection"
READ_WAIT = 20.0  # seconds a VM job waits for a running recovery before it reads the pool
FIX_CONCURRENCY = 8  # parallel HA-field / home-pool writes
MAX_GROUP_DELAY = 600.0
POOL_HA_OFF = "pool-ha-off"  # get-vm-ha reason when the pool HA switch is not "true"


# --- small readers ---------------------------------------------------------------------------
def host_role(root):
    """"master", "slave" or None (pool.conf unreadable)."""
    from halizard import hostinfo

    try:
        return hostinfo.read_pool_conf(root)[0]
    except hostinfo.HostInfoError:
        return None


def self_uuid(root):
    from halizard import hostinfo

    try:
        return hostinfo.read_inventory(root).get("INSTALLATION_UUID")
    except hostinfo.HostInfoError:
        return None


def load_retry(state):
    """vm/appliance uuid -> RetryState from the state file (malformed entries dropped)."""
    out = {}
    for uuid, entry in (state.read(RETRY_STATE, {}) or {}).items():
        try:
            out[uuid] = RetryState(int(entry["failures"]), float(entry["next_attempt_at"]),
                                   bool(entry.get("alerted")))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _retry_plain(retry):
    return {u: {"failures": s.failures, "next_attempt_at": s.next_attempt_at, "alerted": s.alerted}
            for u, s in retry.items()}


load_intent = intent_mod.load


def safe_policy(config, state, log):
    """(Policy, None), or (None, why) when HA must not act on `config`: said once (config.refusal)."""
    return refusal.checked_policy(config, state, log, "VM protection", "refuses to start VMs")


# --- the round -------------------------------------------------------------------------------
def decide(snapshot, policy, intent, retry, now):
    """The core plan for this snapshot (pure)."""
    return vm_plan.plan(snapshot.pool, policy, operator_stopped=intent.operator_stopped, retry=retry,
                        usable_hosts=snapshot.usable_hosts(), now=now)


def _alert(root, config, session, alert, log):
    try:
        from halizard.alerts import raise_alert

        raise_alert(alert.function, alert.text, root=root, config=config)
    except Exception as exc:  # noqa: BLE001 - an alert must never stop VM protection
        log.error("alert not raised ({}): {}", type(exc).__name__, alert.text)


def protect(root, session, snapshot, config, log, state, is_master, on_call=None, lock_wait=0.0,
            deadline=None, trigger="sweep"):
    """Decide and act once for this snapshot; a report dict, or None when another run holds the lock.

    deadline: wall-clock epoch seconds after which no new group starts.
    """
    from halizard.xapi import act

    policy, refused = safe_policy(config, state, log)
    if policy is None:
        return {"acted": False, "why": refused}
    gate = cycle.ha_enabled(snapshot.pool, policy)
    if not gate.proceed:
        log.debug("VM protection idle: {}", gate.why)
        return {"acted": False, "why": gate.why}
    allowed = roles.may_start_vms(is_master, is_suspended(root), None, False, policy)
    if not allowed.allowed:
        log.debug("VM protection idle: {}", allowed.why)
        return {"acted": False, "why": allowed.why}
    lock = ActionLock(root)
    if not lock.acquire(lock_wait):
        return None
    acted = False
    try:
        if lock.changed_since(snapshot.taken_at):  # another job started or released VMs since the read
            from halizard.xapi.view import watch
            snapshot = watch(root, state, log).snapshot(session, config.xc_field_key,
                                                   timeout=float(config.get("XE_TIMEOUT") or 10))
        now = time.time()
        retry = load_retry(state)
        plan = decide(snapshot, policy, load_intent(state), retry, now)
        report = {"acted": True, "trigger": trigger, "at": now, "started": [], "declined": [], "failed": [],
                  "unplaced": [s.name_label or s.vm_uuid for s in plan.unplaced]}
        timeout = float(config.get("XE_TIMEOUT") or 10)
        for status in plan.unplaced:
            log.warning("VM {} not started: {}", status.name_label or status.vm_uuid, status.why)
        starter = act.Starter(session, snapshot, snapshot.usable_hosts(), call_timeout=timeout, log=log,
                              on_call=on_call)
        for index, group in enumerate(plan.groups):
            if deadline is not None and time.time() >= deadline:
                log.warning("VM starts left for the next run: the run's deadline is near")
                break
            results = starter.start_many(group.starts, policy.VM_START_CONCURRENCY,
                                         on_done=lambda r: _log_result(snapshot, r, log))
            _record(root, config, session, snapshot, policy, state, results, report, log, logged=True)
            if group.delay_after and index < len(plan.groups) - 1:
                pause = min(float(group.delay_after), MAX_GROUP_DELAY)
                if deadline is not None:
                    pause = min(pause, max(0.0, deadline - time.time()))
                time.sleep(pause)
        for start in plan.appliance_starts:
            result = starter.start_appliance(start)
            _record(root, config, session, snapshot, policy, state, [result], report, log, appliance=True)
        state.write(REPORT_STATE, {k: report[k] for k in ("trigger", "at", "started", "declined", "failed",
                                                          "unplaced")})
        acted = bool(report["started"] or report["declined"] or report["failed"])
    finally:
        lock.release(acted=acted)
    if is_master and plan.fixes:
        # HA-field and home-pool corrections start nothing: outside the action lock, so hundreds of
        # them (a new pool) never keep a recovery waiting; their own lock keeps two runs from both doing them.
        fix_lock = ActionLock(root, name=FIX_LOCK_FILE)
        if fix_lock.acquire(0.0):
            try:
                _apply_fixes(root, session, snapshot, plan, config, log, timeout)
            finally:
                fix_lock.release()
    return report


def _apply_fixes(root, session, snapshot, plan, config, log, timeout):
    """The master's corrections: invalid/missing HA fields, home-pool stamps, operator stops kept in XAPI,
    their alerts."""
    from halizard.xapi import act

    fixes = [f for f in plan.fixes if isinstance(f, (A.SetVmHaField, A.StampHomePool, A.MarkOperatorStop))]
    if fixes:  # independent per-VM writes: at once (a new pool stamps hundreds of VMs on the first round)
        workers = max(1, min(FIX_CONCURRENCY, len(fixes)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vmfix") as pool:
            for done, text in pool.map(lambda f: act.apply_fix(session, snapshot, f, config.xc_field_key,
                                                               timeout), fixes):
                (log.info if done else log.error)("{}", text)
    for fix in plan.fixes:
        # the invalid-value alert goes out once: after the reset the field holds "false"
        if isinstance(fix, A.Alert):
            _alert(root, config, session, fix, log)


def _log_result(snapshot, result, log, appliance=False):
    """One line per start, at the time it finished."""
    from halizard.xapi import act

    name = _name(snapshot, result.vm_uuid, appliance)
    if result.outcome == act.OK:
        log.info("{} {} started{}", "appliance" if appliance else "VM", name,
                 "" if appliance else " on %s" % _host_name(snapshot, result.host_uuid))
    elif result.outcome == act.DECLINED_RESULT:
        log.info("start of {} declined by XAPI ({}): someone else is starting it or it runs", name, result.error)
    else:
        log.error("{} did not start: {}", name, result.error)


def _record(root, config, session, snapshot, policy, state, results, report, log, appliance=False,
            logged=False):
    """Log each result, keep the back-off state, alert once for a VM that keeps failing."""
    from halizard.xapi import act

    journal.vm_results(state, snapshot.pool, () if appliance else results, snapshot.taken_at, fault="vm-down")
    now = time.time()
    alerts = []

    def change(current):
        current = dict(current or {})
        for result in results:
            name = _name(snapshot, result.vm_uuid, appliance)
            if result.outcome == act.OK:
                current.pop(result.vm_uuid, None)
            elif result.outcome == act.FAILED:
                prev = load_retry_entry(current.get(result.vm_uuid))
                new, alert = backoff.after_failure(prev, now, policy, name, result.error)
                current[result.vm_uuid] = _retry_plain({"x": new})["x"]
                if alert is not None:
                    alerts.append(alert)
        return current

    state.update(RETRY_STATE, change, {})
    for result in results:
        name = _name(snapshot, result.vm_uuid, appliance)
        report[{act.OK: "started", act.DECLINED_RESULT: "declined"}.get(result.outcome, "failed")].append(name)
        if not logged:
            _log_result(snapshot, result, log, appliance)
    for alert in alerts:
        _alert(root, config, session, alert, log)


def load_retry_entry(entry):
    try:
        return RetryState(int(entry["failures"]), float(entry["next_attempt_at"]), bool(entry.get("alerted")))
    except (KeyError, TypeError, ValueError):
        return None


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
def acting_role(root, config):
    """(is_master, acts): a slave acts only with SLAVE_VM_STAT=1."""
    role = host_role(root)
    if role == "master":
        return True, True
    if role == "slave":
        try:
            return False, bool(int(config.get("SLAVE_VM_STAT") or 0))
        except (TypeError, ValueError):
            return False, False
    return False, False


def connect_and_read(root, timeout, session=None, read_wait=READ_WAIT):
    """(session, snapshot, effective config) or raises XapiError; reuses `session` when given.

    Waits up to `read_wait` seconds for a recovery holding the VM action lock first.
    """
    from halizard.xapi.pool_config import load_effective
    from halizard.xapi.session import connect
    from halizard.xapi.view import watch

    ActionLock(root).wait_free(read_wait)  # a recovery starting VMs right now: read after it
    if session is None:
        session = connect(root, timeout=timeout)
    try:
        probe = load_effective(root, pool_other_config={})
        key = probe.xc_field_key
        view = watch(root)  # event-driven: one event.from per run, whatever the VM count (issue 16)
        snapshot = view.snapshot(session, key, timeout=timeout)
        config = load_effective(root, pool_other_config=snapshot.pool_other_config)
        if config.xc_field_key != key:  # XC_FIELD_NAME set in the pool: the same records, seen with it
            snapshot = view.snapshot(session, config.xc_field_key, timeout=timeout, fresh=False)
    except Exception:
        session.logout()
        raise
    return session, snapshot, config


def run(ctx):
    from halizard.xapi.errors import XapiError

    is_master, acts = acting_role(ctx.root, ctx.config)
    if not acts:
        ctx.log.debug("VM sweep not run here: {}", "slave without SLAVE_VM_STAT" if not is_master else "?")
        return
    timeout = float(ctx.config.get("XE_TIMEOUT") or 10)
    remaining = ctx.remaining()
    if remaining is not None:
        timeout = max(0.5, min(timeout, remaining / 3.0))
    read_wait = READ_WAIT if remaining is None else max(0.0, min(READ_WAIT, remaining / 3.0))
    try:
        session, snapshot, config = connect_and_read(ctx.root, timeout, read_wait=read_wait)
    except XapiError as exc:
        ctx.log.warning("VM sweep skipped: the pool could not be read ({})", type(exc).__name__)
        raise SystemExit(1) from None
    try:
        report = protect(ctx.root, session, snapshot, config, ctx.log, ctx.state, is_master,
                         deadline=ctx.deadline, trigger="sweep")
        if is_master:  # issue 17: failure tolerance, stored for metrics/status, alert when short
            whatif.check(ctx.root, session, config, ctx.state, ctx.log, time.time(), snapshot)
    finally:
        session.logout()
    if report is None:
        ctx.log.debug("VM sweep: the event job is acting right now; nothing to do")
    elif report.get("acted") and (report["started"] or report["failed"]):
        ctx.log.info("VM sweep: started {}, failed {}, declined {}", len(report["started"]),
                     len(report["failed"]), len(report["declined"]))


# --- why each VM is or is not protected (ha-cfg get-vm-ha) ---------------------------------
def vm_reasons(root, session, config, now=None):
    """[{uuid, name_label, power_state, protected, reason, why}] for every VM, as this cycle would decide.

    Uses the same plan as the jobs: mode, HA field, home pool, the operator
    stops and back-off this host recorded, placement (no capacity). Control
    domains, templates and snapshots are left out (never managed).
    """
    from halizard.statefiles import StateStore
    from halizard.xapi.observe import read_snapshot

    snapshot = read_snapshot(session, config.xc_field_key)
    policy = policy_of(config)
    state = StateStore(root)
    plan = decide(snapshot, policy, load_intent(state), load_retry(state), time.time() if now is None else now)
    gate = cycle.ha_enabled(snapshot.pool, policy)
    rows = []
    for vm in snapshot.pool.vms:
        status = plan.status_of(vm.uuid)
        if status is None or status.reason in (vm_plan.CONTROL_DOMAIN, vm_plan.TEMPLATE, vm_plan.SNAPSHOT):
            continue
        if not gate.proceed:  # nothing is protected while pool HA is off
            rows.append({"uuid": vm.uuid, "name_label": vm.name_label, "power_state": vm.power_state,
                         "protected": False, "reason": POOL_HA_OFF, "why": gate.why})
            continue
        rows.append({"uuid": vm.uuid, "name_label": vm.name_label, "power_state": vm.power_state,
                     "protected": status.protected, "reason": status.reason, "why": status.why})
    return rows
