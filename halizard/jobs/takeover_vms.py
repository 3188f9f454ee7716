"""The takeover's release of the old master's VMs and disks, and the restart of its protected VMs.

Why: after the transition this host is master of a database that still
shows the old master's VMs running; they are released (marked halted, disk
markers cleared) in parallel, then (SLAVE_HA) restarted in plan order, both
holding this host's VM action lock so its own VM jobs do not act meanwhile.
"""
from concurrent.futures import ThreadPoolExecutor

from halizard.config import refusal
from halizard.core import actions as A
from halizard.core import takeover as core
from halizard.jobs.takeover_checks import _vm_start_gate
from halizard.jobs.takeover_state import RELEASED
from halizard.ops import journal

START_SECONDS = 120.0
RELEASE_CONCURRENCY = 16
LOCK_WAIT = 30.0  # seconds the release/restart waits for a VM job's round to end


def _release(env, actions):
    """Run the release actions (in parallel where they are per VM); OK when every one succeeded."""
    from halizard.xapi import act_host
    from halizard.xapi import takeover_ops as ops
    from halizard.xapi.errors import XapiError
    if not env.hold_vm_lock(LOCK_WAIT):
        env.log.warning("the release waits: another VM job holds this host's VM action lock")
        return core.NOT_OK
    try:
        session = env.master()
    except XapiError as exc:
        env.log.error("cannot open a session on this host to release the old master: {}", exc)
        return core.NOT_OK
    key = env.config.xc_field_key

    def one(action):
        def call():
            done = ops.release_by_ref(session, action, env.refs)
            return done if done is not None else act_host.execute(session, action, key)
        ok, detail = ops.with_retries(call)
        if not ok and isinstance(action, A.ResetVmPowerState) and "UUID_INVALID" in detail:
            ok = True  # the VM is gone from this database: nothing to release
        elif ok and isinstance(action, A.ResetVmPowerState):
            env.reset_ok.add(action.vm_uuid)
        (env.log.debug if ok else env.log.warning)("{}", detail)
        return ok

    # Order of the plan: the host marked failed first, forgotten last; the per-VM resets and the
    # per-disk marker clears in between are independent of each other, so they run in parallel.
    first = [a for a in actions if isinstance(a, A.SetHostHealth)]
    last = [a for a in actions if isinstance(a, A.ForgetHost)]
    middle = [a for a in actions if a not in first and a not in last]
    ok = all([one(a) for a in first])
    if middle:
        with ThreadPoolExecutor(max_workers=min(RELEASE_CONCURRENCY, len(middle)), thread_name_prefix="release") as ex:
            ok = all(list(ex.map(one, middle))) and ok
    ok = all([one(a) for a in last]) and ok
    return core.OK if ok else core.NOT_OK


def _restart(env, action, cached):
    """SLAVE_HA: start the protected VMs the old master held, in plan order, in parallel per group.

    The VMs the old master held ran in this pool, so they count as stamped
    with its home-pool even when the dead master never wrote the stamp.
    Plans from the view read after the transition (the VMs this run reset
    shown Halted) instead of reading the whole database again; a resumed
    run reads it. Holds the VM action lock, so vm_events/vm_monitor on this
    new master do not start the same VMs meanwhile.
    """
    from halizard.core import vm_plan
    from halizard.jobs import slave_recovery
    from halizard.xapi import act
    from halizard.xapi.errors import XapiError

    refused = refusal.why_unsafe(env.config)
    if refused:
        env.log.error("the old master's VMs are not restarted: {}", refused)
        return core.NOT_OK
    gate = _vm_start_gate(env, cached if cached is not None else env.view)
    if not gate.allowed:
        env.log.warning("the old master's VMs are not restarted now: {}", gate.why)
        return core.REFUSED
    if not env.hold_vm_lock(LOCK_WAIT):
        env.log.warning("VM restarts left to vm_monitor: another VM job holds this host's VM action lock")
        return core.NOT_OK
    try:
        session = env.master()
        view = _restart_view(env, session)
    except (XapiError, KeyError, ValueError) as exc:
        env.log.error("cannot read this host's database to restart the VMs: {}", exc)
        return core.NOT_OK
    held = set(env.store.read(RELEASED, []) or [])
    if cached is not None:
        held |= {v.uuid for v in cached.vms_resident_on(action.host_uuid)}
    held |= {v.uuid for v in view.vms_resident_on(action.host_uuid)}
    view = slave_recovery.homed_view(view, held)
    usable = {u for u in vm_plan.usable_hosts_from_fields(view) if u != action.host_uuid}
    usable.add(env.self_uuid)
    plan = vm_plan.plan(view, env.policy, usable_hosts=usable, now=env.clock.boot())
    starter = act.Starter(session, act.ViewTargets(session, view, env.timeout, env.refs.get("VM")), usable,
                          call_timeout=env.timeout, start_deadline=START_SECONDS, log=env.log)
    failures = 0
    groups = [(g, [s for s in g.starts if s.vm_uuid in held]) for g in plan.groups]
    for index, (group, starts) in enumerate(groups):
        if not starts:
            continue
        results = starter.start_many(starts, env.policy.VM_START_CONCURRENCY,
                                     on_done=lambda r: slave_recovery.log_start(env.log, view, r))
        failures += sum(1 for r in results if r.outcome == act.FAILED)
        journal.vm_results(env.store, view, results, None)
        env.log.info("restarted {} VMs of order {} of the old master", len(starts), group.order)
        if group.delay_after and any(m for _g, m in groups[index + 1:]):
            env.clock.sleep(min(group.delay_after, 60))
    if plan.unplaced:
        env.log.error("{} VMs of the old master fit nowhere", len(plan.unplaced))
    return core.OK if not failures else core.NOT_OK


def _restart_view(env, session):
    """The view to plan the restarts from: the post-transition view with this run's resets applied
    and each host's free memory, or (a resumed run) a full read of this host's database."""
    from halizard.jobs import slave_recovery
    from halizard.xapi import takeover_ops as ops

    if env.view is None:
        return ops.snapshot(session, env.config.xc_field_key, refs=env.refs)[1]
    view = slave_recovery.released_view(env.view, env.reset_ok)
    return ops.with_free_memory(session, view, env.timeout)


def _exclude_old_master(env, host_uuid):
    """Last man standing: the old master is proven dead (the takeover's proof) and its VMs were
    restarted, so it leaves the vote count (core.membership); the next cycle's master tries again."""
    from halizard.jobs import membership
    from halizard.xapi.errors import XapiError

    try:
        membership.change(env.master(), env.store, env.log, exclude=[host_uuid])
    except XapiError as exc:
        env.log.warning("the old master is not excluded from the membership yet ({})", type(exc).__name__)
