"""Drive the master-failure state machine (halizard.core.takeover) and run its actions.

Why: taking over a dead master is a sequence of slow, risky steps (fence,
emergency transition, ~10 s until xapi is master, recover_slaves, release,
restart). The core decides each step; this module executes the actions and
stores the state after every step in the state file `takeover`, so a run
that is killed (deadline, reboot) resumes where it stopped instead of
starting over or, worse, fencing twice. The state file and the HA
suspension are in takeover_state, the last checks from a fresh probe round
in takeover_checks, the release and restart of the old master's VMs in
takeover_vms.

`master_watch` (the job) calls `drive` each cycle while the master is silent
or a takeover is under way; it also resumes a takeover already in progress.
"""
from halizard.config import refusal
from halizard.jobs import peer_check
from halizard.jobs.action_lock import ActionLock
from halizard.core import actions as A
from halizard.core import fencing
from halizard.core import takeover as core
from halizard.core.model import RUNNING
from halizard.ops import journal
from halizard.jobs.takeover_checks import _last_check
# The names callers (master_watch, recover_fenced_host, tests) import from here.
from halizard.jobs.takeover_state import (  # noqa: F401
    AFTER_TRANSITION, REBOOTED, RELEASED, STATE, SUSPENSION, clear_suspension,
    in_progress, load_state, load_view, save_state, save_view, suspend)
from halizard.jobs.takeover_vms import _exclude_old_master, _release, _restart

FENCE_SECONDS = 60.0
RECOVER_SECONDS = 30.0
MAX_STEPS = 50


class Env:
    """The takeover's view over the job's Env (halizard.jobs.base.Env): the configuration and Policy
    master_watch settled, this host, and what one drive carries from step to step."""

    def __init__(self, job, config, policy, self_uuid, self_address):
        self.job = job
        self.config = config
        self.policy = policy
        self.self_uuid = self_uuid
        self.self_address = self_address
        self._source = None
        self._master = None
        self.view = None        # this host's own database, read once after the transition
        self.refs = {}          # {"VM": {uuid: ref}, "VDI": {uuid: ref}} of that read
        self.reset_ok = set()   # VMs whose power state this run reset (Halted in the database now)
        self.answered = frozenset()  # peers whose xapi answered the round that stepped the takeover
        self.old_master = None       # the master this takeover replaces (set by drive)
        self.master_probe = None     # this round's probe of the old master (set by drive; peer_check)
        self.reached = frozenset()   # the peers the last _round_now reached (peer_check)
        self._vm_lock = None

    @property
    def root(self):
        return self.job.root

    @property
    def store(self):
        return self.job.state

    @property
    def log(self):
        return self.job.log

    @property
    def platform(self):
        return self.job.platform

    @property
    def clock(self):
        """The job's clocks (halizard.jobs.base.Clocks): deadlines and waits on `boot`."""
        return self.job.clock

    @property
    def source(self):
        """This host's address the probes leave from (the platform's), asked once."""
        if self._source is None:
            self._source = self.platform.source_address() or ""
        return self._source or None

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
    result = fence_host(agent, action.host_uuid, action.fence_action, env.clock.monotonic() + FENCE_SECONDS,
                        still_alive=still_alive)
    outcome = fencing.outcome_of(result.verified, result.state)
    journal.record(env.store, "fenced", result.detail, subject=(host.name_label if host else "") or action.host_uuid,
                   method=env.policy.FENCE_METHOD, outcome=outcome.value)
    return outcome


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
    deadline = env.clock.monotonic() + max(0.0, action.deadline - env.clock.boot())
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


def _alert(env, action):
    env.job.alert(action.function, action.text)  # never raises: an alert never stops a takeover


def _reboot_once(env):
    from halizard.platform import PlatformError
    if env.store.read(REBOOTED, None):
        env.log.warning("this host already rebooted once for this suspension; it stays up, suspended")
        return
    env.store.write(REBOOTED, {"at": env.clock.boot()})
    env.log.error("rebooting this host once: it could not fence the master (HA stays suspended)")
    try:
        env.platform.reboot()
    except PlatformError as exc:
        env.log.error("reboot failed: {}", exc)


_RELEASE = (A.SetHostHealth, A.ResetVmPowerState, A.ClearVdiMarker, A.ForgetHost)
WAIT = object()  # execute's answer when the step waits: the run ends there (never passed to core.step)


def execute(env, actions, pool, cached):
    """Run one step's actions in order; returns the outcome for the next step (None: nothing to report).

    A Wait ends the run: the next cycle probes again and steps on.
    """
    release = []
    outcome = None
    for action in actions:
        env.log.info("{}: {}", action.kind, action.why)
        if isinstance(action, _RELEASE):
            release.append(action)
        elif isinstance(action, A.Wait):
            return WAIT
        else:
            outcome = _act(env, action, pool, cached, outcome)
    if release:
        reset = sorted({a.vm_uuid for a in release if isinstance(a, A.ResetVmPowerState)})
        env.store.update(RELEASED, lambda old: sorted(set(old or []) | set(reset)), [])
        outcome = _release(env, release)
    return outcome


def _restart_and_exclude(env, action, cached):
    outcome = _restart(env, action, cached)
    if outcome != core.REFUSED:
        _exclude_old_master(env, action.host_uuid)
    return outcome


# What each action outside the release does: (runner(env, action, pool, cached), gives the step's outcome)
_ACTS = {
    A.FenceHost: (lambda env, action, pool, _cached: _fence(env, action, pool), True),
    A.EmergencyTransition: (lambda env, _action, pool, _cached: _transition(env, pool), True),
    A.WaitUntilMaster: (lambda env, action, _pool, _cached: _await_master(env, action), True),
    A.RecoverSlaves: (lambda env, _action, _pool, _cached: _recover(env), True),
    A.RestartVmsOf: (lambda env, action, _pool, cached: _restart_and_exclude(env, action, cached), True),
    A.Alert: (lambda env, action, _pool, _cached: _alert(env, action), False),
    A.SuspendSelf: (lambda env, action, _pool, _cached: suspend(env.store, action.why, env.clock.boot()), False),
    A.RebootSelf: (lambda env, _action, _pool, _cached: _reboot_once(env), False),
}


def _act(env, action, pool, cached, outcome):
    """One action outside the release; returns the step's outcome (an alert, suspension or reboot keeps it)."""
    runner, gives_outcome = _ACTS.get(type(action), (None, False))
    if runner is None:
        env.log.error("takeover cannot execute {}", action.kind)
        return outcome
    result = runner(env, action, pool, cached)
    return result if gives_outcome else outcome


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
        return state, _await_master(env, A.WaitUntilMaster(why="resumed", deadline=env.clock.boot() + core.MASTER_WAIT))
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
    env.master_probe = inputs.master_probe
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
            st = peer_check.hold(env, inputs, state, core.step(state, inputs, env.policy, env.clock.boot(), outcome))
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
            if outcome is WAIT:
                break
    finally:
        env.close()
    return state


def still_running_vms_of(pool, host_uuid):
    """VMs the view still shows running on `host_uuid` (for reports)."""
    return [v.uuid for v in pool.vms_resident_on(host_uuid) if v.power_state == RUNNING]
