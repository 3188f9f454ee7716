"""The `ha-lizard run` service: lock, jobs, control socket, signals, systemd notify.

Why: one long-lived, mostly idle process that only decides *when* things
run; all real work happens in isolated job processes (isolate.py). SIGHUP
reloads configuration and the job set; SIGTERM/SIGINT stop every job within
a bounded time; systemd hears READY/RELOADING/STOPPING and watchdog pings
(pings stop when the scheduler or control thread died, so systemd restarts
us; that replaces the old ha-lizard-watchdog).
"""
import json
import os
import signal
import sys
import threading
import time

from loguru import logger

from halizard import paths
from halizard.config.settings import load_settings
from halizard.statefiles import StateError, StateStore
from halizard.supervisor import locks
from halizard.supervisor.control import ControlError, ControlServer
from halizard.supervisor.isolate import Runner, RunJournal
from halizard.supervisor.logsetup import logs_to_stderr, setup_logging
from halizard.supervisor.notify import Notifier
from halizard.supervisor.registry import DEFAULT_GRACE, RegistryError, load_jobs
from halizard.supervisor.scheduler import Hooks, JobScheduler
from halizard.supervisor.watchdog import Backstop
from halizard.xapi.pool_config import load_effective
from halizard.xapi.shared_login import SharedLogin

log = logger.bind(function="supervisor")

HISTORY_STATE = "supervisor-jobs"
START_STATE = "service-start"
STOP_TIMEOUT = 15.0
IDLE_TICK = 5.0


class StartupError(Exception):
    """The service cannot start (already running, bad job set); exit status attached."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


class Service:
    """One supervisor instance for one host root."""

    def __init__(self, root=None, overrides=None, log_stderr=False, log_file=None, notifier=None,
                 stop_timeout=STOP_TIMEOUT, environ=None):
        self.root = paths.resolve_root(root)
        self.overrides = dict(overrides or {})
        self.log_stderr = log_stderr
        self.log_file = log_file
        self.notifier = notifier or Notifier()
        self.stop_timeout = stop_timeout
        self.environ = os.environ if environ is None else environ
        self.lock = locks.InstanceLock(self.root)
        self.state = StateStore(self.root)
        self.started = None
        self.warnings = {}
        self._wake = threading.Event()
        self._reload_requested = False
        self._stop_requested = False
        self._history_lock = threading.Lock()
        self.settings = None
        self.scheduler = None
        self.runner = None
        self.login = None
        self.control = None
        self.backstop = None

    # --- signals -------------------------------------------------------------------------
    def _on_hup(self, _signum, _frame):
        self._reload_requested = True
        self._wake.set()

    def _on_term(self, _signum, _frame):
        self._stop_requested = True
        self._wake.set()

    def install_signal_handlers(self):
        signal.signal(signal.SIGHUP, self._on_hup)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)

    # --- lifecycle -----------------------------------------------------------------------
    def _configure_logging(self, settings):
        setup_logging(settings, stderr=self.log_stderr, extra_sink=self.log_file)

    def setup(self):
        """Take the lock and start everything; raises StartupError."""
        self._configure_logging(None)
        try:
            self.lock.acquire()
        except locks.AlreadyRunning as exc:
            raise StartupError("ha-lizard: %s; not starting a second instance" % str(exc).replace("ha-lizard is ", "")) from None
        try:
            specs = load_jobs(self.environ)
        except RegistryError as exc:
            self.lock.release()
            raise StartupError("ha-lizard: %s" % exc) from None
        self.started = time.time()
        self._record_start()
        if "master_cycle" in specs:  # only a master cycle can lift the hold
            self._hold_vm_starts_if_master()
        self.settings = load_settings(self.root, self.overrides, read_live=load_effective)
        self._configure_logging(self.settings)
        self._note_config(self.settings)
        journal = RunJournal(os.path.join(locks.run_dir(self.root), "runs.json"))
        for leader, members in sorted(journal.sweep().items()):
            log.warning("killed {} leftover process(es) of job run {} from a previous instance", len(members), leader)
        # the job forkserver (started with the first run) builds this root's configuration and the runs'
        # log sinks once (halizard.supervisor.forkserver_preload)
        os.environ["HALIZARD_WARM_ROOT"] = self.root
        if self.log_file is None or isinstance(self.log_file, str):
            os.environ["HALIZARD_WARM_LOG"] = json.dumps({"stderr": bool(self.log_stderr), "file": self.log_file})
        self.login = SharedLogin(self.root)
        self.runner = Runner(on_finish=self._on_finish, log_stderr=self.log_stderr, log_file=self.log_file,
                             journal=journal)
        self.runner.login = self.login
        self.scheduler = JobScheduler(self.root, self.runner, specs, self.settings, overrides=self.overrides,
                                      default_grace=DEFAULT_GRACE, hooks=Hooks(on_change=self._persist))
        self.backstop = Backstop(self.root, watch_self_fence="self_fence" in specs)
        self.control = ControlServer(self.root, self.handle)
        self.control.start()
        self.scheduler.start()
        log.info("ha-lizard started (pid {}, root {}), jobs: {}", os.getpid(), self.root,
                 ", ".join(sorted(specs)) or "none")
        self.notifier.ready("supervising %d jobs" % len(specs))

    def serve(self):
        """Main loop until SIGTERM/SIGINT; pings the watchdog while healthy."""
        self._arm(self.settings)  # armed once everything runs: a slow start is not a frozen service
        while not self._stop_requested:
            ticks = [IDLE_TICK, self.notifier.watchdog_interval(), self.backstop.interval()]
            self._wake.wait(min(t for t in ticks if t))
            self._wake.clear()
            if self._reload_requested:
                self._reload_requested = False
                self.reload()
            self.scheduler.repair()
            healthy = self._healthy()
            self.backstop.feed(healthy)
            if healthy:
                self.notifier.watchdog()
            else:
                log.error("supervisor unhealthy (scheduler or control thread gone); withholding watchdog ping")

    def _healthy(self):
        return self.scheduler.alive() and self.control.alive()

    def reload(self):
        self.notifier.reloading()
        log.info("SIGHUP: reloading configuration and job set")
        settings = load_settings(self.root, self.overrides, read_live=load_effective)
        try:
            specs = load_jobs(self.environ)
        except RegistryError as exc:
            log.error("job set not reloaded, keeping the previous one: {}", exc)
            specs = {name: state.spec for name, state in self.scheduler.jobs.items() if not state.retired}
        self.settings = settings
        self._configure_logging(settings)
        self._note_config(settings)
        self.scheduler.reload(specs, settings)
        self._arm(settings)
        log.info("reload done: MONITOR_DELAY={} MONITOR_SCANRATE={} MONITOR_MAX_STARTS={} MONITOR_KILLALL={}",
                 settings.get("MONITOR_DELAY"), settings.get("MONITOR_SCANRATE"),
                 settings.get("MONITOR_MAX_STARTS"), settings.get("MONITOR_KILLALL"))
        self.notifier.ready("reloaded")

    def shutdown(self):
        """Stop deciding, end every job (bounded), release the socket and the lock."""
        self.notifier.stopping()
        log.info("stopping: ending all jobs (at most {:g} s)", self.stop_timeout)
        if self.scheduler is not None:
            self.scheduler.shutdown()
        if self.runner is not None:
            left = self.runner.stop_all("service stopping", self.stop_timeout)
            if left:
                log.error("{} job(s) still alive after {:g} s: {}", len(left), self.stop_timeout,
                          ", ".join("%s (pid %s)" % (run.name, run.pid) for run in left))
        if self.login is not None:
            self.login.close()
        if self.control is not None:
            self.control.stop()
        if self.backstop is not None:
            self.backstop.close()
        self.lock.release()
        log.info("ha-lizard stopped")

    def run(self):
        """setup + serve + shutdown; returns the exit status."""
        self.install_signal_handlers()
        try:
            self.setup()
        except StartupError as exc:
            log.error(str(exc))
            if not logs_to_stderr():
                sys.stderr.write(str(exc) + "\n")
            return exc.status
        try:
            self.serve()
        finally:
            self.shutdown()
        return 0

    # --- bookkeeping ---------------------------------------------------------------------
    def _arm(self, settings):
        """The watchdog backstop follows SELF_FENCE_WATCHDOG; a device that failed shows in `status`."""
        self.backstop.configure(settings.get("SELF_FENCE_WATCHDOG"))
        self._note("watchdog", self.backstop.problem)

    def _note(self, key, problem):
        if problem:
            self.warnings[key] = problem
        else:
            self.warnings.pop(key, None)

    def _record_start(self):
        """`service-start.json` tells jobs (e.g. the alerts' quiet start) when this instance began."""
        try:
            self.state.write(START_STATE, {"started": self.started, "pid": os.getpid()})
        except StateError as exc:
            log.warning("cannot record the service start: {}", exc)
            self._note("start", str(exc))

    def _hold_vm_starts_if_master(self):
        """A host whose pool.conf says master holds its VM starts until a master cycle confirms it.

        Why: an old master that boots after a takeover still believes it is master, and its
        database still says its VMs run nowhere else; the first master cycle (which probes the
        pool, halizard.jobs.master_cycle) lifts this once no other host answers as master and the
        pool has quorum. Until then VM protection starts nothing here (halizard.suspension).
        """
        from halizard import hostinfo
        from halizard.suspension import MASTER_CONFLICT
        try:
            role, _master = hostinfo.read_pool_conf(self.root)
        except hostinfo.HostInfoError as exc:  # an unreadable pool.conf is the jobs' business
            log.debug("pool.conf not read at start: {}", type(exc).__name__)
            return
        if role != "master":
            return
        why = ("this host started as pool master; a master cycle must confirm that no other host "
               "took over before VMs start here")
        try:
            self.state.write(MASTER_CONFLICT, {"suspended": True, "by": "service start", "since": time.time(),
                                               "why": why})
        except StateError as exc:
            log.warning("cannot hold VM starts until the first master cycle: {}", exc)
            return
        log.info("VM starts held until the first master cycle: {}", why)

    def _note_config(self, settings):
        """Configuration trouble (layer failed, broken override file) shows up in status/jobs list."""
        self._note("config", settings.problem)
        override_error = getattr(settings, "override_error", None)
        if override_error:
            log.warning("override file not applied, last good values kept: {}", override_error)
        self._note("override", override_error and "override file not applied: %s" % override_error)

    def _on_finish(self, run):
        if self.scheduler is not None:
            self.scheduler.on_finish(run)

    def _persist(self):
        """Keep the last outcome of every job in a state file; a failure becomes a status warning."""
        history = {item["name"]: {"last": item["last"], "counts": item["counts"]}
                   for item in self.scheduler.snapshot()}
        with self._history_lock:
            try:
                self.state.write(HISTORY_STATE, history)
            except StateError as exc:
                if "state" not in self.warnings:
                    log.warning("cannot record job outcomes: {}", exc)
                self._note("state", str(exc))
            else:
                if "state" in self.warnings:
                    log.info("state directory writable again")
                self._note("state", None)

    # --- control socket ------------------------------------------------------------------
    def status(self):
        return {
            "pid": os.getpid(),
            "root": self.root,
            "started": self.started,
            "uptime": round(time.time() - self.started, 3) if self.started else 0.0,
            "warnings": sorted(self.warnings.values()),
            "settings": self.settings.snapshot() if self.settings else {},
            "jobs": self.scheduler.snapshot() if self.scheduler else [],
        }

    def handle(self, command, args):
        if command == "status":
            return self.status()
        if command == "jobs":
            return {"jobs": self.scheduler.snapshot(), "warnings": sorted(self.warnings.values())}
        if command == "kill":
            name = args.get("name")
            try:
                result = self.scheduler.kill(name)
            except (KeyError, TypeError):
                raise ControlError("no job named %r" % (name,)) from None
            log.info("job {}: kill requested over the control socket ({})", name, result)
            return {"name": name, "result": result}
        if command == "reload":
            self._on_hup(None, None)
            return {"reload": "requested"}
        raise ControlError("unknown command %r" % (command,))
