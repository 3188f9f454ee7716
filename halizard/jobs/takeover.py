"""Drive the master-failure state machine (halizard.core.takeover) and run its actions.

Why: taking over a dead master is a sequence of slow, risky steps (fence,
emergency transition, ~10 s until xapi is master, recover_slaves, release,
restart). The core decides each step; this module executes the actions and
stores the state after every step in the state file `takeover`, so a run
that is killed (deadline, reboot) resumes where it stopped instead of
starting over or, worse, fencing twice. It also owns the HA suspension flag
(`suspended`, read by `ha-cfg status`): a suspended host never takes over.

`master_watch` (the job) calls `drive` each cycle while the master is silent
or a takeover is under way; it also resumes a takeover already in progress.
"""
import time
from concurrent.futures import ThreadPoolExecutor

from halizard import suspension
from halizard.config import refusal
from halizard.jobs.action_lock import ActionLock
from halizard.core import actions as A
from halizard.core import fencing
from halizard.core import takeover as core
from halizard.core.model import RUNNING, pool_from_plain, pool_to_plain
from halizard.probes import clock as bootclock
from halizard.ops import journal

STATE = "takeover"
SUSPENSION = suspension.TAKEOVER_FLAG
REBOOTED = "takeover-reboot"
CACHED_VIEW = "takeover-pool-view"
RELEASED = "takeover-released"
FENCE_SECONDS = 60.0
RECOVER_SECONDS = 30.0
START_SECONDS = 120.0
RELEASE_CONCURRENCY = 16
LOCK_WAIT = 30.0  # seconds the release/restart waits for a VM job's round to end
MAX_STEPS = 50
IN_PROGRESS = (core.TIE_WAIT, core.FENCING, core.AWAIT_DEADLINE, core.TRANSITION, core.AWAIT_MASTER,
               core.RECOVER_SLAVES, core.RELEASE, core.RESTART)
AFTER_TRANSITION = (core.AWAIT_MASTER, core.RECOVER_SLAVES, core.RELEASE, core.RESTART)


# --- persisted state --------------------------------------------------------------------------


def load_state(store, log=None):
    """The stored takeover state; IDLE when missing or malformed (a malformed one is logged).

    A wait stored without this boot's id (written by a version that timed it with the wall clock, or
    before a reboot) is on another clock: read on the boot clock it could last for ever, so the state
    is discarded (logged) and the sequence starts again from idle with fresh times.
    """
    raw = store.read(STATE, None)
    if raw is None:
        return core.TakeoverState()
    try:
        state = core.state_from_plain(raw)
    except ValueError:
        if log is not None:
            log.warning("takeover state file is malformed; starting from idle")
        return core.TakeoverState()
    if state.wait_until is not None and raw.get("boot_id") != bootclock.boot_id():
        if log is not None:
            log.warning("takeover state {} waits until {} on another clock (an older version or another "
                        "boot); discarded, starting from idle", state.phase, state.wait_until)
        return core.TakeoverState()
    return state


def save_state(store, state):
    plain = core.state_to_plain(state)
    plain["boot_id"] = bootclock.boot_id()  # its times are on this boot's clock (load_state)
    store.write(STATE, plain)


def in_progress(state):
    """True while a takeover has begun and not ended."""
    return state.phase in IN_PROGRESS


def suspend(store, why, now=None):
    store.write(SUSPENSION, {"suspended": True, "since": now if now is not None else time.time(), "why": why})


def clear_suspension(store):
    """Lift the suspension and forget the finished takeover (so the next failure starts afresh)."""
    store.remove(SUSPENSION)
    store.remove(REBOOTED)
    state = load_state(store)
    if state.phase in (core.SUSPENDED, core.FAILED, core.DONE):
        save_state(store, core.TakeoverState())


def save_view(store, pool):
    store.write(CACHED_VIEW, pool_to_plain(pool))


def load_view(store):
    """The last pool view taken while the master answered, or None."""
    raw = store.read(CACHED_VIEW, None)
    if not isinstance(raw, dict):
        return None
    try:
        return pool_from_plain(raw)
    except (KeyError, TypeError, ValueError):
        return None


# --- the executor -----------------------------------------------------------------------------


class Env:
    """Everything the actions need: this host, its config, its platform, its state."""

    def __init__(self, root, config, policy, store, log, self_uuid, self_address, platform, clock=bootclock.now):
        self.root = root
        self.config = config
        self.policy = policy
        self.store = store
        self.log = log
        self.self_uuid = self_uuid
        self.self_address = self_address
        self.platform = platform
        self.source = platform.source_address() if platform is not None else None
        self.clock = clock
        self._master = None
        self.view = None        # this host's own database, read once after the transition
        self.refs = {}          # {"VM": {uuid: ref}, "VDI": {uuid: ref}} of that read
        self.reset_ok = set()   # VMs whose power state this run reset (Halted in the database now)
        self.answered = frozenset()  # peers whose xapi answered the round that stepped the takeover
        self.old_master = None       # the master this takeover replaces (set by drive)
        self._vm_lock = None

    def hold_vm_lock(self, wait):
        """Hold this host's VM action lock until close(): no VM job starts or plans meanwhile."""
        if self._vm_lock is None:
            lock = ActionLock(None, directory=self.store.directory)
            if not lock.acquire(wait):
                return False
            self._vm_lock = lock
        return True

    @property
    def timeout(self):
        return float(self.policy.XE_TIMEOUT)

    def master(self):
        """A normal session on this host (it is master by now); reused for the release."""
        from halizard.xapi import takeover_ops as ops
        if self._master is None:
            self._master = ops.master_session(self.root, self.timeout)
        return self._master

    def close(self):
        if self._vm_lock is not None:
            self._vm_lock.release(acted=True)
            self._vm_lock = None
        if self._master is not None:
            self._master.logout()
            self._master = None


def _fence(env, action, pool):
    from halizard.fence.confirm import fence_host
    from halizard.fence.registry import agent_from_config
    from halizard.probes.still_alive import host_still_answers

    host = pool.host(action.host_uuid)
    address = host.address if host is not None else ""

    def still_alive(deadline):
        return host_still_answers(env.platform, address, deadline, env.source)

    try:
        agent = agent_from_config(env.config, env.root)
    except Exception as exc:  # noqa: BLE001 - a broken agent setup is an unverified fence
        env.log.error("fence agent unusable: {}", str(exc)[:200])
        return fencing.FENCE_FAILED
    result = fence_host(agent, action.host_uuid, action.fence_action, time.monotonic() + FENCE_SECONDS,
                        still_alive=still_alive)
    journal.record(env.store, "fenced", result.detail, subject=(host.name_label if host else "") or action.host_uuid, method=env.policy.FENCE_METHOD, outcome=fencing.outcome_of(result.verified, result.state))
    return fencing.outcome_of(result.verified, result.state)


def _round_now(env, pool):
    """One quick probe round of every other enabled host: ({uuid: (login state, named master)}, quorum)."""
    from halizard.jobs import host_health, membership, witness
    from halizard.probes.deadline import after
    from halizard.probes.parallel import probe_hosts

    peers = [(h.uuid, h.address) for h in pool.hosts if h.uuid != env.self_uuid and h.enabled and h.address]
    raw = probe_hosts(env.platform, peers, 1, 0.0, env.timeout, deadline=after(env.timeout + 1.0)) if peers else {}
    logins = {u: (p.xapi_state, p.master_address) for u, p in raw.items()}
    reachable = {u for u, p in raw.items() if p.xapi_ok or p.network_ok}
    q = membership.quorum(env.store, env.self_uuid, [h.uuid for h in pool.hosts if h.enabled], reachable,
                          host_health.heuristics_ok(env.platform, env.policy), env.policy,
                          witness.held(env.store, env.policy))
    return logins, q


def _self_fencing(env):
    from halizard.jobs.self_fence import is_self_fencing
    return is_self_fencing(env.store)


def _last_check(env, pool):
    """roles.may_transition from a round made right now: no second master, no transition elsewhere."""
    from halizard.core import roles

    old = pool.host(pool.master_uuid)
    logins, q = _round_now(env, pool)
    peers = {u: v for u, v in logins.items() if u != pool.master_uuid}
    if logins.get(pool.master_uuid, ("", None))[0] == roles.XAPI_MASTER:
        peers[pool.master_uuid] = logins[pool.master_uuid]  # the old master itself is back
    return roles.may_transition(old.address if old is not None else "", env.answered - {pool.master_uuid},
                                peers, q, _self_fencing(env), env.policy)


def _vm_start_gate(env, pool):
    """roles.may_start_vms with a fresh quorum and this host's self-fence state, right before starts."""
    from halizard.core import roles

    _logins, q = _round_now(env, pool)
    return roles.may_start_vms(True, suspension.takeover_suspended(env.store), q, _self_fencing(env), env.policy)


def _transition(env, pool):
    from halizard.xapi import takeover_ops as ops
    from halizard.xapi.errors import XapiError
    check = _last_check(env, pool)
    if not check.allowed:
        env.log.warning("no emergency transition: {}", check.why)
        return core.ABORTED
    env.log.info("last check before the emergency transition: {}", check.why)
    try:
        ops.emergency_transition(env.root, env.timeout)
    except XapiError as exc:
        env.log.error("pool.emergency_transition_to_master failed: {}", exc)
        return core.NOT_OK
    return core.OK


def _await_master(env, action):
    from halizard.jobs import membership
    from halizard.xapi import takeover_ops as ops
    deadline = time.monotonic() + max(0.0, action.deadline - env.clock())
    ok = ops.wait_until_master(env.root, deadline)
    if ok:
        _record_takeover(env)
        membership.confirm_master(env.store)  # the last check before the transition found no other master
    return core.OK if ok else core.NOT_OK


def _record_takeover(env):
    """Write the takeover record into this new master's database (core.roles.next_takeover).

    Why: when the old master comes back, this record is how this host knows it replaced that
    one and recovers it, while the old master stands down (roles.resolve_masters). Failing here
    does not stop the takeover: both masters then stand down until the tie rule decides.
    """
    from halizard.core import roles
    from halizard.xapi import takeover_ops as ops
    from halizard.xapi.errors import XapiError

    if not env.old_master:
        return False
    for attempt in (1, 2):
        try:
            session = env.master()
            text = roles.next_takeover(ops.read_takeover(session), env.old_master)
            ops.write_takeover(session, text)
        except XapiError as exc:
            env.log.warning("takeover record not written (attempt {}): {}", attempt, type(exc).__name__)
            env.close()
            continue
        env.log.info("takeover record written to this master's database: {}", text)
        return True
    return False


def _recover(env):
    from halizard.xapi import takeover_ops as ops
    from halizard.xapi.errors import XapiError
    try:
        refs = ops.recover_slaves(env.master(), timeout=RECOVER_SECONDS)
    except XapiError as exc:
        env.log.warning("pool.recover_slaves failed: {}", exc)
        env.close()
        return core.NOT_OK
    env.log.info("pool.recover_slaves: {} hosts follow this master now", len(refs))
    return core.OK


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
    plan = vm_plan.plan(view, env.policy, usable_hosts=usable, now=env.clock())
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
            time.sleep(min(group.delay_after, 60))
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


def _alert(env, action):
    try:
        from halizard.alerts import raise_alert
        raise_alert(action.function, action.text, root=env.root)
    except Exception as exc:  # noqa: BLE001 - an alert must never stop a takeover
        env.log.warning("alert {} not raised: {}", action.function, type(exc).__name__)


def _reboot_once(env):
    from halizard.platform import PlatformError
    if env.store.read(REBOOTED, None):
        env.log.warning("this host already rebooted once for this suspension; it stays up, suspended")
        return
    env.store.write(REBOOTED, {"at": env.clock()})
    env.log.error("rebooting this host once: it could not fence the master (HA stays suspended)")
    try:
        env.platform.reboot()
    except PlatformError as exc:
        env.log.error("reboot failed: {}", exc)


def execute(env, actions, pool, cached):
    """Run one step's actions in order; returns the outcome for the next step (None: nothing to report).

    A Wait ends the run: the next cycle probes again and steps on.
    """
    release = []
    outcome = None
    for action in actions:
        env.log.info("{}: {}", action.kind, action.why)
        if isinstance(action, (A.SetHostHealth, A.ResetVmPowerState, A.ClearVdiMarker, A.ForgetHost)):
            release.append(action)
        elif isinstance(action, A.Wait):
            return "wait"
        elif isinstance(action, A.FenceHost):
            outcome = _fence(env, action, pool)
        elif isinstance(action, A.EmergencyTransition):
            outcome = _transition(env, pool)
        elif isinstance(action, A.WaitUntilMaster):
            outcome = _await_master(env, action)
        elif isinstance(action, A.RecoverSlaves):
            outcome = _recover(env)
        elif isinstance(action, A.RestartVmsOf):
            outcome = _restart(env, action, cached)
            if outcome != core.REFUSED:
                _exclude_old_master(env, action.host_uuid)
        elif isinstance(action, A.Alert):
            _alert(env, action)
        elif isinstance(action, A.SuspendSelf):
            suspend(env.store, action.why, env.clock())
        elif isinstance(action, A.RebootSelf):
            _reboot_once(env)
        else:
            env.log.error("takeover cannot execute {}", action.kind)
    if release:
        reset = sorted({a.vm_uuid for a in release if isinstance(a, A.ResetVmPowerState)})
        env.store.update(RELEASED, lambda old: sorted(set(old or []) | set(reset)), [])
        outcome = _release(env, release)
    return outcome


def _fresh_view(env, cached):
    """After the transition: this host's own database (it is master), else the cached view."""
    from halizard.xapi import takeover_ops as ops
    from halizard.xapi.errors import XapiError
    try:
        refs = {}
        _other, view = ops.snapshot(env.master(), env.config.xc_field_key, memory=False, refs=refs)
    except (XapiError, KeyError, ValueError) as exc:
        env.log.warning("own database unreadable after the transition ({}); using the cached view",
                        type(exc).__name__)
        return cached
    if cached is not None and view.host(cached.master_uuid) is not None:
        env.view = view  # the restart plans from it too (no second read of the whole database)
        env.refs = refs
        return view
    return cached


def _refuse(env, state, why):
    """Say the refusal once (config.refusal); the takeover state stays as it is."""
    refusal.say(env.store, env.log, "takeover", "takeover refused while the master is silent: %s" % why)
    return state


def _resume(env, state, inputs):
    """A run that starts where an earlier one stopped mid-action: (state, the outcome to step with).

    The earlier run may have been killed between an action and the step
    that records its outcome, so the outcome is found out again (or the
    action repeated where that is safe).
    """
    phase = state.phase
    if phase == core.FENCING:
        env.log.info("resuming an interrupted fence: deciding again from the start")
        return core.TakeoverState(), None
    if phase == core.TRANSITION:
        return state, core.OK  # the transition was issued; AWAIT_MASTER finds out whether it worked
    if phase == core.AWAIT_MASTER:
        return state, _await_master(env, A.WaitUntilMaster(why="resumed", deadline=env.clock() + core.MASTER_WAIT))
    if phase == core.RECOVER_SLAVES:
        return state, _recover(env)
    if phase == core.RELEASE:
        return state, core.NOT_OK  # the core then issues the release again (it is idempotent)
    if phase == core.RESTART:
        held = A.RestartVmsOf(why="resumed", host_uuid=state.master_uuid or inputs.pool.master_uuid)
        return state, _restart(env, held, inputs.pool)
    return state, None


def drive(env, inputs, state=None):
    """Step the state machine until it waits, ends or needs a new probe round; returns the last state.

    inputs: core.TakeoverInputs built from this round's probes and the cached view.
    """
    state = state if state is not None else load_state(env.store, env.log)
    cached = inputs.pool
    env.old_master = state.master_uuid or cached.master_uuid
    refused = refusal.why_unsafe(env.config)
    if refused and state.phase not in AFTER_TRANSITION:  # nothing fenced; after a transition only restarts wait
        env.close()
        return _refuse(env, state, refused)
    if not refused:
        refusal.say(env.store, env.log, "takeover", None)
    try:
        state, outcome = _resume(env, state, inputs)
        for _ in range(MAX_STEPS):
            if state.phase in (core.RECOVER_SLAVES, core.RELEASE) and inputs.pool is cached:
                fresh = _fresh_view(env, cached)
                inputs = core.TakeoverInputs(self_uuid=inputs.self_uuid, pool=fresh,
                                             master_probe=inputs.master_probe, quorum=inputs.quorum,
                                             autopromote=inputs.autopromote, suspended=inputs.suspended)
            st = core.step(state, inputs, env.policy, env.clock(), outcome)
            if st.state != state or st.actions:
                env.log.info("takeover {} -> {}: {}", state.phase, st.state.phase, st.why)
                journal.record(env.store, "takeover", st.why, subject=st.state.phase, started=state.phase == core.IDLE)
            else:
                env.log.debug("takeover {}: {}", state.phase, st.why)
            if state.phase == core.IDLE and st.state.phase != core.IDLE:
                env.store.remove(RELEASED)  # a new takeover: forget the VMs an earlier one released
            save_state(env.store, st.state)
            state = st.state
            if not st.actions:
                break
            outcome = execute(env, st.actions, inputs.pool, cached)
            if outcome == "wait":
                break
    finally:
        env.close()
    return state


def still_running_vms_of(pool, host_uuid):
    """VMs the view still shows running on `host_uuid` (for reports)."""
    return [v.uuid for v in pool.vms_resident_on(host_uuid) if v.power_state == RUNNING]
