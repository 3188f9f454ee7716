"""The job entry-point contract.

A job is a module-level function `run(ctx)`. The supervisor calls it in a
fresh process of its own (own process group), so a job may block, crash or
hang without harming the supervisor or other jobs; a deadline ends it.

- return normally        -> outcome "ok"
- raise / sys.exit(n!=0) -> outcome "error" (exit code recorded)
- still running at the deadline -> SIGTERM to its process group, a grace
  period, then SIGKILL -> outcome "timed_out"
- killed by `ha-lizard jobs kill`, the monitor (MONITOR_KILLALL) or anyone
  else -> outcome "killed"

`ctx` gives: `root` (host root), `name` (job name), `config` (settings with
`.get(NAME)` and `.function_enabled(kind, fn)`; local only: the override file
plus the pool values cached by the last live read, never a network call),
`state` (a
`halizard.statefiles.StateStore`), `log` (loguru logger bound to the job's
function name) and `deadline` (wall-clock epoch seconds, or None).
"""
import time


class JobContext:
    """What a job receives; config is loaded lazily (in the job's own process)."""

    def __init__(self, root, name, overrides=None, deadline=None, config=None, state=None, log=None):
        self.root = root
        self.name = name
        self.deadline = deadline
        self._overrides = dict(overrides or {})
        self._config = config
        self._state = state
        self._log = log

    @property
    def config(self):
        """Local configuration: override file + the cached pool values (never a network call).

        A job that needs the pool's live values calls
        `halizard.config.effective.load_effective(ctx.root)` itself, within its deadline.
        """
        if self._config is None:
            from halizard.config.settings import load_settings
            self._config = load_settings(self.root, self._overrides)
        return self._config

    @property
    def state(self):
        if self._state is None:
            from halizard.statefiles import StateStore
            self._state = StateStore(self.root)
        return self._state

    @property
    def log(self):
        if self._log is None:
            from loguru import logger
            self._log = logger.bind(function=self.name)
        return self._log

    def remaining(self, default=None):
        """Seconds left before the deadline (for call timeouts), or `default` without one."""
        if self.deadline is None:
            return default
        return max(0.0, self.deadline - time.time())
