"""The configuration as the supervisor sees it: the effective config plus explicit overrides.

Why: the supervisor must keep running whatever the configuration layer does
(missing, XAPI silent, a bad value). `load_settings()` never raises: it asks
`halizard.config.effective`, falls back to the host
override file alone when that fails, and lays explicit values (tests,
per-job settings) on top. Monitor parameters come out typed.
"""
from loguru import logger

from halizard import hostinfo, paths
from halizard.config import cache
from halizard.config.effective import POOL_CACHE, cached_pool, effective_with_pool

log = logger.bind(function="supervisor")

# The local configuration last built per root, with the files it came from (see _local_config).
_LOCAL_MEMO = {}
MEMO_FILE_LIMIT = 256 * 1024   # larger configuration files are not memoised (read in full every time)

MONITOR_DEFAULTS = {
    "MONITOR_DELAY": 15.0,
    "MONITOR_SCANRATE": 10.0,
    "MONITOR_MAX_STARTS": 20,
    "MONITOR_KILLALL": 1,
    "ENABLE_LOGGING": 1,
}


def _parse_override_file(path):
    """Bash-like KEY=VALUE lines (comments ignored, one level of quotes stripped)."""
    values = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return values
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#") or "=" not in text:
            continue
        key, _, value = text.partition("=")
        key = key.strip()
        if key.startswith("export "):
            key = key[len("export "):].strip()
        value = value.split(" #", 1)[0].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if key.replace("_", "").isalnum():
            values[key] = value
    return values


class OverrideFileConfig:
    """Fallback source: the host override file only (used while halizard.config is absent)."""

    def __init__(self, root):
        self.values = _parse_override_file(paths.under(root, paths.OVERRIDE_FILE))

    def get(self, name, default=None):
        return self.values.get(name, default)


class Settings:
    """Read-only view: explicit overrides, then the effective config, then defaults."""

    def __init__(self, base=None, overrides=None, problem=None):
        self.base = base
        self.overrides = dict(overrides or {})
        self.problem = problem

    def get(self, name, default=None):
        if name in self.overrides:
            return self.overrides[name]
        if self.base is not None:
            try:
                value = self.base.get(name)
            except Exception:
                value = None
            if value is not None and value != "":
                return value
        return MONITOR_DEFAULTS.get(name, default) if default is None else default

    def function_enabled(self, kind, function):
        """`LOG_<function>` / `MAIL_<function>` switch; on unless set to 0."""
        key = "%s_%s" % (kind, function)
        if key not in self.overrides and self.base is not None:
            checker = getattr(self.base, "function_enabled", None)
            if checker is not None:
                try:
                    return bool(checker(kind, function))
                except Exception:
                    return True
        value = self.get(key)
        return value is None or str(value).strip().lower() not in ("0", "false", "no")

    def number(self, name, minimum=None):
        """A positive number parameter; a bad value falls back to the default with a warning."""
        raw = self.get(name)
        try:
            value = float(str(raw).strip().strip("'\""))
        except (TypeError, ValueError):
            value = None
        if value is None or (minimum is not None and value < minimum):
            fallback = MONITOR_DEFAULTS[name]
            log.warning("{}={!r} is not a valid number; using {}", name, raw, fallback)
            return float(fallback)
        return value

    def flag(self, name):
        """A 0/1 parameter (also accepts booleans and true/yes)."""
        return str(self.get(name)).strip().strip("'\"").lower() in ("1", "true", "yes")

    def __getattr__(self, name):
        """Anything else (e.g. `xc_field_key`, `pool_ha_state()`) comes from the effective config."""
        base = self.__dict__.get("base")
        if base is None or name.startswith("_"):
            raise AttributeError(name)
        return getattr(base, name)

    def snapshot(self, names=None):
        """Plain values for display (monitor parameters by default)."""
        return {name: self.get(name) for name in (names or MONITOR_DEFAULTS)}


def load_settings(root, overrides=None, read_live=None):
    """The current settings; never raises (a failing config layer is logged and defaults used).

    With `read_live` (halizard.xapi.pool_config.load_effective: the
    supervisor at start and on SIGHUP) the pool's values are read from the
    master (bounded by XE_TIMEOUT, the cache is used when it is silent).
    Without it the network is never touched: override file plus the pool
    values cached by the last live read; that is what each job run gets, so a
    hung master never eats a job's deadline before it even starts.
    """
    try:
        if read_live is not None:
            return Settings(read_live(root), overrides)
        return Settings(_local_config(root), overrides)
    except Exception as exc:
        problem = "configuration could not be loaded (%s); using the host override file and defaults" % (
            type(exc).__name__,)
        log.warning(problem)
        return Settings(OverrideFileConfig(root), overrides, problem=problem)


def _file_key(path):
    """The file's bytes (None when unreadable): these files are small, and the pool cache is
    rewritten with the same content every cycle, so a time stamp would change far more often."""
    try:
        with open(path, "rb") as handle:
            return handle.read(MEMO_FILE_LIMIT + 1)
    except OSError:
        return None


def local_config_files(root):
    """The files the local configuration is built from (override file, pool cache, host name marker).

    The override file's last-good copy is not among them: building writes it,
    and it only changes when the override file itself does.
    """
    return (paths.under(root, paths.OVERRIDE_FILE), cache.state_path(root, POOL_CACHE),
            hostinfo.sim_marker_path(root))


def _local_config(root):
    """The local effective configuration, rebuilt only when one of its files changed (by content).

    Why: building it (every parameter parsed and checked) was most of a job
    run's own CPU. The job forkserver builds it once at start
    (forkserver_preload), so every run forked from there reuses it until the
    override file or the pool cache changes.
    """
    key = (paths.resolve_root(root),) + tuple(_file_key(p) for p in local_config_files(root))
    if any(k is not None and len(k) > MEMO_FILE_LIMIT for k in key[1:]):
        _uuid, cached = cached_pool(root)   # unusually large: not memoised
        return effective_with_pool(root, cached or {})
    config = _LOCAL_MEMO.get(key[0])
    if config is not None and config[0] == key:
        return config[1]
    _uuid, cached = cached_pool(root)
    built = effective_with_pool(root, cached or {})
    _LOCAL_MEMO[key[0]] = (key, built)
    return built


def warm_local_config(root):
    """Build and remember the local configuration of `root` now (the forkserver, before any run)."""
    try:
        _local_config(root)
        return True
    except Exception:
        return False


def override_file(root):
    return paths.under(root, paths.OVERRIDE_FILE)
