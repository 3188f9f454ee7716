"""Job `vm_events`: event-driven detection, so a VM that stops is started within about a second.

Why: the sweep (vm_monitor) only looks every MONITOR_DELAY seconds. This job
follows `event.from` on VMs: each batch is folded into the operator-stop
intent (core.intent: a shutdown operation seen on the way to Halted means an
operator stopped it), and a VM reaching Halted wakes the executor thread,
which reads the pool and runs the same plan as the sweep (vm_monitor.protect).
A broken stream is logged once, triggers a full sweep, and is reconnected
with a growing pause; the fresh token's first batch is treated as a sweep.

A run lasts one window (WINDOW seconds, just under the job's period) and the
next run resumes from the saved token, so nothing between runs is missed.
On a host that does not act (a slave without SLAVE_VM_STAT) the run just
watches the role, so a promoted slave starts watching within a second or two.
"""
import threading

from halizard.core import intent as intent_mod
from halizard.core.model import HALTED, OPERATOR_STOP_KEY, operator_stop_of, operator_stop_over
from halizard.jobs import vm_monitor
from halizard.jobs.base import Outcome, Report
from halizard.jobs.vm_monitor import INTENT_STATE
from halizard.xapi.errors import XapiError
from halizard.xapi.observe import StreamLost, VmEventWatcher

WINDOW = 28.0          # seconds per run; the job's period in halizard.jobs.JOBS is 30
TOKEN_STATE = "vm-events-token"
DEBOUNCE = 0.03        # let a burst of stops arrive before reading the pool
ROLE_CHECK = 1.0


class Executor:
    """A thread that runs vm_monitor.protect whenever woken; bursts coalesce into one round."""

    def __init__(self, env, is_master, end_at, on_call=None):
        self.env = env
        self.log = env.log
        self.is_master = is_master
        self.end_at = end_at
        self.on_call = on_call
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.rounds = 0
        self.session = None
        self.thread = threading.Thread(target=self._loop, name="vm-executor", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def wake(self):
        self._wake.set()

    def stop(self, timeout=None):
        self._stop.set()
        self._wake.set()
        self.thread.join(timeout)
        if not self.thread.is_alive():
            self._drop_session()

    def _loop(self):
        while not self._stop.is_set():
            self._wake.wait(0.5)
            if self._stop.is_set():
                return
            if not self._wake.is_set():
                continue
            self.env.clock.sleep(DEBOUNCE)
            self._wake.clear()
            self._round()

    def _round(self):
        try:  # the session is kept between rounds: a login costs time a restart should not wait for
            read = vm_monitor.connect_and_read(self.env, 5.0, self.session)
        except XapiError as exc:
            self.session = None
            self.log.warning("event-driven start skipped: the pool could not be read ({}); the sweep will retry",
                             type(exc).__name__)
            return
        self.session = read.session
        try:
            how = vm_monitor.How("event", lock_wait=30.0, deadline=self.end_at + 60.0, on_call=self.on_call)
            report = vm_monitor.protect(self.env, read, self.is_master, how)
            self.rounds += 1
            if report is None:
                self.wake()  # the sweep held the lock for too long: look again
        except Exception as exc:  # noqa: BLE001 - the watcher keeps running; the sweep is the safety net
            self.log.error("event-driven round failed ({}): {}", type(exc).__name__, exc)
            self._drop_session()

    def _drop_session(self):
        session, self.session = self.session, None
        if session is not None:
            session.logout()


def _fold(state, events):
    """Fold VM events into the persisted intent; True when a VM reached Halted (worth a round)."""
    halted = any(ev.power_state == HALTED and not ev.current_operations for ev in events)
    if events:
        state.update(vm_intent_name(),
                     lambda cur: intent_mod.to_plain(intent_mod.fold(intent_mod.from_plain(cur), events)), {})
    return halted


def _clear_operator_stops(env, changed):
    """Master: a VM seen Running while XAPI still records an operator stop gets the key cleared now,
    before the intent forgets the stop. Why: the sweep clears it only on its next cycle, and a crash
    in between found the stale key and left the VM halted (test_vm_operator_stop)."""

    running = [ev.vm_uuid for ev, rec in changed
               if operator_stop_over(ev.power_state, operator_stop_of((rec or {}).get("other_config")))]
    if not running:
        return
    try:
        session = env.connect(5.0)
    except XapiError as exc:
        env.log.warning("operator stop of {} not cleared ({}); the sweep will", running, type(exc).__name__)
        return
    try:
        for uuid in running:
            session.xenapi.VM.remove_from_other_config(session.xenapi.VM.get_by_uuid(uuid), OPERATOR_STOP_KEY)
            env.log.info("operator stop of {} cleared: it runs again", uuid)
    except XapiError as exc:
        env.log.warning("operator stop not cleared ({}); the sweep will", type(exc).__name__)
    finally:
        session.logout()


def vm_intent_name():
    return INTENT_STATE


def watch(env, is_master, end_at, on_call=None, wait=1.0):
    """Follow VM events until `end_at` (monotonic); returns (rounds, stream breaks)."""

    clock, log, state = env.clock, env.log, env.state
    saved = state.read(TOKEN_STATE, {}) or {}
    token = saved.get("token", "") if isinstance(saved, dict) else ""
    # its own login: it holds its session for the whole run, and one long-waiting event.from is enough per login
    watcher = VmEventWatcher(lambda: env.connect(5.0, shared=False), wait=wait, call_timeout=5.0, token=token)
    executor = Executor(env, is_master, clock.wall() + (end_at - clock.monotonic()), on_call=on_call).start()
    breaks, lost = 0, False
    try:
        while clock.monotonic() < end_at:
            if env.role() != ("master" if is_master else "slave"):
                log.info("this host's role changed; the next run watches with the new role")
                break
            try:
                batch = watcher.poll(min(wait, max(0.0, end_at - clock.monotonic())))
            except StreamLost as exc:
                if not lost:
                    log.warning("VM event stream lost ({}); full sweeps until it is back", exc.reason)
                    breaks += 1
                lost = True
                executor.wake()
                continue
            if lost:
                log.info("VM event stream back after {} reconnect(s)", watcher.reconnects)
                lost = False
            initial = [ev for ev, _rec, op in batch if op == "initial"]
            changes = [ev for ev, _rec, op in batch if op != "initial"]
            if initial:
                # a fresh token lists every VM: forget stops of VMs running again, then a full round
                _fold(state, [ev for ev in initial if ev.power_state != HALTED])
                executor.wake()
            if is_master:
                _clear_operator_stops(env, [(ev, rec) for ev, rec, op in batch if op != "initial"])
            if changes and _fold(state, changes):
                executor.wake()
            state.write(TOKEN_STATE, {"token": watcher.token, "at": clock.wall()})
    finally:
        watcher.close()
        executor.stop(timeout=90.0)
    return executor.rounds, breaks


def run(env):
    """Watch for one window; returns a Report of the rounds run and stream breaks."""

    clock = env.clock
    started = clock.monotonic()
    end_at = started + WINDOW
    if env.deadline is not None:
        end_at = min(end_at, started + max(1.0, env.remaining() - 5.0))
    rounds = breaks = 0
    watched = False
    while clock.monotonic() < end_at:
        is_master, acts = vm_monitor.acting_role(env)
        if acts:
            watched = True
            more, lost = watch(env, is_master, end_at)
            rounds, breaks = rounds + more, breaks + lost
            if clock.monotonic() < end_at:
                continue
            break
        if env.role() is None:
            return Report(Outcome.IDLE, "VM event watch not run: this host's pool role is unknown (pool.conf)")
        clock.sleep(min(ROLE_CHECK, max(0.0, end_at - clock.monotonic())))
    if not watched:
        return Report(Outcome.IDLE, "VM events not watched: this host does not act (a slave without SLAVE_VM_STAT)")
    if not rounds and not breaks:
        return Report(Outcome.QUIET, "VM events watched: nothing to act on")
    return Report(Outcome.DEGRADED if breaks else Outcome.DONE,
                  "VM events watched: %d event-driven round(s), %d stream break(s)" % (rounds, breaks))
