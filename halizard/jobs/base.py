"""The job entry-point contract, and the Env every job receives.

A job is a module-level function `run(env)`. The supervisor calls it in a
fresh process of its own (own process group), so a job may block, crash or
hang without harming the supervisor or other jobs; a deadline ends it.

- return normally        -> outcome "ok"
- return Report(FAILED, ..), raise, sys.exit(n!=0) -> outcome "error"
- still running at the deadline -> SIGTERM to its process group, a grace
  period, then SIGKILL -> outcome "timed_out"
- killed by `ha-lizard jobs kill`, the monitor (MONITOR_KILLALL) or anyone
  else -> outcome "killed"

A run returns one Report (an Outcome and one sentence); the supervisor logs it
as the run's one line, at the Outcome's level, and `jobs list` shows it.

Why one Env: a job reaches the world only through it (clocks, the XAPI
session factory, the platform, the configuration and its Policy, the state
store, alerts), so the real dom0, the simulator (the same Env, its platform
chosen by the host root) and the unit tests (tests/unit/jobs/fake_env.py:
settable clocks, fake sessions and platform) run the same job code.
`env.config` is local only (the override file plus the pool values cached by
the last live read, never a network call); `env.effective()` reads the pool's
live values within the run's deadline.
"""
import collections
import enum

from loguru import logger

from halizard import alerts, hostinfo
from halizard.config.effective import cached_pool
from halizard.config.settings import load_settings
from halizard.platform import get_platform
from halizard.probes.clock import Clocks
from halizard.statefiles import StateStore
from halizard.xapi.errors import XapiError
from halizard.xapi.pool_config import load_effective
from halizard.xapi.session import connect


class Outcome(enum.Enum):
    """What a run did, with the level its one log line gets."""

    IDLE = ("idle", "DEBUG")            # nothing to do this time
    DONE = ("done", "INFO")             # did its work
    QUIET = ("quiet", "DEBUG")          # did its routine work, nothing worth a line at INFO
    SKIPPED = ("skipped", "DEBUG")      # could not work this time for an expected reason; the next run retries
    DEGRADED = ("degraded", "WARNING")  # part of the work was not done
    FAILED = ("failed", "WARNING")      # the run failed: its outcome is "error" (the supervisor counts it)

    def __init__(self, word, level):
        self.word = word
        self.level = level


class Report(collections.namedtuple("Report", "outcome text detail")):
    """A run's result: an Outcome, one sentence, and (for tests and callers) what the job produced."""

    def __new__(cls, outcome, text, detail=None):
        return super().__new__(cls, outcome, text, detail)


def as_report(value):
    """A job's return value as a Report (None: an unconverted job, nothing to say)."""
    if value is None or isinstance(value, Report):
        return value
    if isinstance(value, str):
        return Report(Outcome.DONE, value)
    return None


class Env:
    """What a job receives; everything is built lazily (in the job's own process) and may be injected."""

    def __init__(self, root, name, overrides=None, deadline=None, config=None, state=None, log=None):
        self.root = root
        self.name = name
        self.deadline = deadline
        self.clock = Clocks()
        self._overrides = dict(overrides or {})
        self._config = config
        self._state = state
        self._log = log
        self._platform = None

    # --- configuration -------------------------------------------------------------------
    @property
    def config(self):
        """Local configuration: override file + the cached pool values (never a network call)."""
        if self._config is None:
            self._config = load_settings(self.root, self._overrides)
        return self._config

    def effective(self, pool_other_config=None, cache=True):
        """The effective configuration with the pool's live values (an XAPI read, XE_TIMEOUT bounded);
        `pool_other_config` given: built from those values, no network call."""
        return load_effective(self.root, pool_other_config=pool_other_config, cache=cache)

    def cached_pool(self):
        """(pool uuid, pool other_config) as the last live read cached them; (None, None) without."""
        return cached_pool(self.root)

    def xe_timeout(self, default=10.0):
        """XE_TIMEOUT of the local configuration, in seconds."""
        try:
            return float(self.config.get("XE_TIMEOUT") or default)
        except (TypeError, ValueError):
            return default

    # --- the world -----------------------------------------------------------------------
    @property
    def state(self):
        if self._state is None:
            self._state = StateStore(self.root)
        return self._state

    @property
    def log(self):
        if self._log is None:
            self._log = logger.bind(function=self.name)
        return self._log

    @property
    def platform(self):
        """This host's Platform (real dom0 or simulated host, chosen by the root)."""
        if self._platform is None:
            self._platform = get_platform(self.root)
        return self._platform

    def connect(self, timeout=None, shared=True):
        """A logged-in session reaching the pool master (XapiError when it does not answer); the
        service's login when it handed one to this run and `shared` (halizard.xapi.shared_login)."""
        return connect(self.root, timeout=self.xe_timeout() if timeout is None else timeout, shared=shared)

    def try_session(self, timeout=None):
        """(session, None), or (None, why) when the master does not answer; the caller logs out."""
        try:
            return self.connect(timeout), None
        except XapiError as exc:
            return None, type(exc).__name__

    def self_uuid(self):
        """This host's uuid (inventory), or None when unknown."""
        try:
            return hostinfo.read_inventory(self.root).get("INSTALLATION_UUID") or None
        except hostinfo.HostInfoError:
            return None

    def role(self):
        """"master", "slave" or None (pool.conf unreadable)."""
        return self._pool_conf()[0]

    def master_address(self):
        """The master's address pool.conf names on a slave; None on the master or when unreadable."""
        return self._pool_conf()[1]

    def _pool_conf(self):
        try:
            return hostinfo.read_pool_conf(self.root)
        except hostinfo.HostInfoError:
            return None, None

    def alert(self, function, text, config=None, **options):
        """Raise one alert through halizard.alerts; never raises (a failure is one warning line).

        `config` defaults to the local configuration; `options` go to raise_alert (session,
        priority, screen_seconds...). Returns the AlertOutcome, or None when it could not be raised.
        """
        try:
            return alerts.raise_alert(function, text, root=self.root, config=self.config if config is None else config,
                               **options)
        except Exception as exc:  # noqa: BLE001 - an alert never stops the job
            self.log.warning("alert not raised ({}): {}", type(exc).__name__, text)
            return None

    # --- time ----------------------------------------------------------------------------
    def remaining(self, default=None):
        """Seconds left before the deadline (for call timeouts), or `default` without one."""
        if self.deadline is None:
            return default
        return max(0.0, self.deadline - self.clock.wall())


JobContext = Env   # the name the jobs not converted yet (and their tests) still use
