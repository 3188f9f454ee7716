"""What every ha-cfg subcommand shares: the Context (host root, master session, config,
terminal) and the helpers around pool writes, secrets and the reload prompt.

Why: one place decides how a session is opened (with its deadline and its one
retry after a reset), how a secret is shown and how a write's timeout is worded.
"""
import sys

from halizard import paths
from halizard.cli.common import MASK
from halizard.config import effective, pool_store, values
from halizard.xapi.errors import XapiError, XapiTimeout

PROG = "ha-cfg"


class Context:
    """What a subcommand needs: the host root, a master session, the config, the terminal."""

    def __init__(self, root, yes=False, stdin=None, stdout=None, stderr=None):
        self.root = paths.resolve_root(root)
        self.yes = yes
        self.stdin = stdin or sys.stdin
        self.out = stdout or sys.stdout
        self.err = stderr or sys.stderr
        self._session = None
        self._config = None
        self._pool = None

    # --- connections ------------------------------------------------------------------
    @property
    def timeout(self):
        return effective.local_xe_timeout(self.root)

    def session(self):
        """A logged-in session to the master (XE_TIMEOUT deadline on every call).

        Reads are tried once more after the peer reset the connection (a new
        master right after a takeover); writes never are (xapi.session.ReadRetrySession).
        """
        if self._session is None:
            from halizard.xapi.session import ReadRetrySession, local_session
            self._session = local_session(self.root, self.timeout, session_class=ReadRetrySession)
        return self._session

    def pool(self):
        """(pool_ref, pool_uuid, other_config), read fresh once per command; refreshes the cache."""
        if self._pool is None:
            self._pool = pool_store.read_other_config(self.session())
            try:
                effective.save_pool_cache(self.root, self._pool[1], self._pool[2])
            except OSError:
                pass
        return self._pool

    def config(self):
        """The EffectiveConfig of this host, with the pool read live from the master."""
        if self._config is None:
            settings, error = effective.load_override_keeping_last_good(self.root)
            _ref, pool_uuid, other = self.pool()
            self._config = effective.build_effective(
                other, settings, effective.local_hostname(self.root), override_error=error,
                pool_status="live", pool_uuid=pool_uuid)
        return self._config

    def invalidate(self):
        self._pool = None
        self._config = None

    def close(self):
        if self._session is not None:
            self._session.logout()
            self._session = None

    # --- terminal ---------------------------------------------------------------------
    def interactive(self):
        try:
            return self.stdin.isatty() and self.out.isatty()
        except (AttributeError, ValueError):
            return False

    def ask(self, question, expected):
        """True when the admin answers `expected` (on a terminal), or --yes was given."""
        if self.yes:
            return True
        if not self.interactive():
            return False
        self.out.write(question + " ")
        self.out.flush()
        answer = self.stdin.readline().strip()
        return answer == expected

    def say(self, text=""):
        self.out.write(text + "\n")

    def warn(self, text):
        self.err.write("%s: warning: %s\n" % (PROG, text))


class Writing:
    """Around XAPI writes: a timeout there means the outcome is unknown, and the message says so."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, _tb):
        if exc_type is not None and issubclass(exc_type, XapiTimeout):
            exc.writing = True
        return False


def apply(ctx, ref, changes):
    with Writing():
        return pool_store.apply_changes(ctx.session(), ref, changes)


def reason(param, exc):
    """Why a value was refused, without echoing a secret."""
    if param.secret:
        return "it cannot be stored (not shown: secret; no spaces, ';', control characters or stray quotes)"
    return str(exc)


def display(param, raw):
    """A stored literal as `get` shows it: secrets masked when set."""
    if param.secret:
        try:
            empty = values.parse_literal(raw).text == ""
        except values.LiteralError:
            empty = False
        return raw if empty else MASK
    return raw


def json_value(param, value):
    if param.secret:
        return MASK if value not in ("", None) else value
    if isinstance(value, tuple):
        return list(value)
    return value


def wait_hint(ctx):
    try:
        delay = int(ctx.config().get("MONITOR_DELAY"))
    except (XapiError, LookupError):
        delay = 15
    return "Wait at least %d seconds for changes to propagate to all pool hosts" % (2 * delay)


def restart_notice(ctx, names):
    """The old tool's prompt after a MONITOR_* change: ask on a terminal, --yes reloads."""
    ctx.say("")
    ctx.say("NOTICE: changes to %s take effect when the service reloads its settings." % ", ".join(names))
    if ctx.ask("Reload the ha-lizard service now? YES or Enter to do it later:", "YES"):
        try:
            from halizard.supervisor.control import query
            query(ctx.root, "reload", timeout=2.0)
            ctx.say("Asked the running service to reload its settings.")
        except Exception as exc:  # noqa: BLE001 - a stopped service is reported, not fatal
            ctx.say("The service did not take the request (%s); restart it with: service ha-lizard restart"
                    % exc)
    else:
        ctx.say("Not reloading now. To apply: service ha-lizard restart")
