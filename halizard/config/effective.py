"""The configuration in force on this host: defaults < pool < override file,
with the source of every value.

Why: every job and the CLI need one answer to "what is MONITOR_DELAY here,
and why". Pool values come live from the master (XE_TIMEOUT deadline,
halizard.xapi.pool_config) or, when the master is silent, from the cached
copy the last successful read left in `<root>/var/lib/ha-lizard/`; this
module builds the configuration from them. A broken override file never takes
effect: its error is reported (naming the line) and the last good override
values stay in force.
"""
import socket
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

from halizard.config import cache, override, pool_store, schema
from halizard.core import timing
from halizard.core.policy import Policy, PolicyError
from halizard.hostinfo import local_hostname

POOL_CACHE = "pool-config.json"
OVERRIDE_CACHE = "override-last-good.json"
SOURCES = ("default", "pool", "override")


class UnsafeConfig(ValueError):
    """The configuration breaks a rule the HA decisions rely on; HA refuses to act on it."""


def safety_problem(values):
    """Why HA must not act on these typed values (name -> value), or None.

    Why: a SELF_FENCE_WAIT shorter than the self-fence deadline lets the pool
    restart VMs an isolated host still runs (docs/timing.md). The check runs
    wherever the configuration is loaded or changed, so neither ha-cfg nor
    the service ever works with such a combination.
    """
    try:
        timing.validate(Policy.from_mapping(values))
    except (PolicyError, timing.UnsafeTiming) as exc:
        return str(exc)
    return None


class Entry:
    """One parameter in force: typed value, the literal it came from, and where from."""

    __slots__ = ("name", "value", "raw", "source")

    def __init__(self, name, value, raw, source):
        self.name = name
        self.value = value
        self.raw = raw
        self.source = source

    def __repr__(self):
        return "Entry(%s=%r from %s)" % (self.name, self.value, self.source)


@dataclass
class Origin:
    """Where the configuration's parts came from: the override file's error, how the pool part was read."""

    override_error: Optional[str] = None
    pool_status: str = "given"
    pool_error: Optional[str] = None
    pool_uuid: Optional[str] = None


class EffectiveConfig:
    """Typed, read-only view of the merged configuration."""

    def __init__(self, entries, pool_other_config, hostname, problems=(), origin=None):
        origin = origin or Origin()
        self._entries = entries
        self.pool_other_config = dict(pool_other_config or {})
        self.hostname = hostname
        self.problems = list(problems)
        self.override_error = origin.override_error
        self.pool_status = origin.pool_status      # "live" | "cache" | "none" | "given"
        self.pool_error = origin.pool_error
        self.pool_uuid = origin.pool_uuid

    def get(self, name):
        """Typed value (`$HOSTNAME` expanded); UnknownParameter for a name not in the schema."""
        return self._entries[schema.canonical_name(name)].value

    def __getitem__(self, name):
        return self.get(name)

    def raw(self, name):
        """The literal the value came from (as stored in the pool / written in the file)."""
        return self._entries[schema.canonical_name(name)].raw

    def source(self, name):
        """"default", "pool" or "override"."""
        return self._entries[schema.canonical_name(name)].source

    def items(self):
        """(name, typed value, source) for every parameter, in schema order."""
        return [(e.name, e.value, e.source) for e in self._entries.values()]

    def function_enabled(self, kind, function):
        """LOG/MAIL switch for `function`, including the global ENABLE_LOGGING / MAIL_ON."""
        kind = kind.upper()
        if kind not in ("LOG", "MAIL"):
            raise ValueError("kind must be LOG or MAIL, not %r" % kind)
        if not self.get("ENABLE_LOGGING" if kind == "LOG" else "MAIL_ON"):
            return False
        entry = self._entries.get("%s_%s" % (kind, function))
        return True if entry is None else bool(entry.value)

    def priority(self, function):
        """Alert priority of `function` (PRIORITY_<function>, default 3)."""
        entry = self._entries.get("PRIORITY_%s" % function)
        return schema.DEFAULT_PRIORITY if entry is None else entry.value

    @property
    def xc_field_key(self):
        """other_config key of the XenCenter HA field (pool, VMs and hosts)."""
        return schema.xc_field_key(self.get("XC_FIELD_NAME"))

    def pool_ha_raw(self):
        """The pool's HA field as stored (None when missing)."""
        return self.pool_other_config.get(self.xc_field_key)

    def pool_ha_state(self):
        """The pool field's pool_store.FlagState: HA is on only for TRUE."""
        return pool_store.flag_state(self.pool_ha_raw())

    def as_mapping(self):
        """name -> typed value, e.g. for the pure core's Policy."""
        return OrderedDict((e.name, e.value) for e in self._entries.values())

    @property
    def unsafe(self):
        """Why HA must not act on this configuration (timing rule, value ranges), or None."""
        if not hasattr(self, "_unsafe"):
            self._unsafe = safety_problem(self.as_mapping())
        return self._unsafe

    def policy(self):
        """The core's Policy of this configuration; UnsafeConfig (with the reason) when HA must not act."""
        if self.unsafe:
            raise UnsafeConfig("unsafe configuration, HA will not act: %s" % self.unsafe)
        return Policy.from_mapping(self.as_mapping())


def policy_of(config):
    """The core Policy from an effective configuration (PolicyError when a value is unusable).

    For showing what the plan would be (get-vm-ha, what-if); acting goes through the refusal check.
    """
    return Policy.from_mapping({name: value for name, value, _source in config.items()})


def build_effective(pool_other_config=None, override_settings=None, hostname=None, **extra):
    """Merge defaults, pool literals and override settings (pure: no I/O)."""
    hostname = hostname or socket.gethostname()
    env = {"HOSTNAME": hostname}
    other = dict(pool_other_config or {})
    override_settings = override_settings or {}
    problems = []
    entries = OrderedDict()
    for param in schema.PARAMETERS.values():
        raw = pool_store.default_literal(param)
        source = "default"
        if not param.host_local_only and param.pool_key in other:
            stored = other[param.pool_key]
            try:
                pool_store.decode(param, stored)
                raw, source = stored, "pool"
            except ValueError as exc:
                problems.append("pool value %s=%s is invalid (%s); using the default"
                                % (param.pool_key, stored, exc))
        setting = override_settings.get(param.name)
        if setting is not None:
            raw, source = setting.raw, "override"
        try:
            value = pool_store.decode(param, raw, env)
        except ValueError as exc:
            # Only an expansion can make a once-valid literal fail; fall back to the default.
            problems.append("%s=%s is invalid after expansion (%s); using the default" % (param.name, raw, exc))
            value, source = param.default, "default"
        entries[param.name] = Entry(param.name, value, raw, source)
    config = EffectiveConfig(entries, other, hostname, problems, Origin(**extra))
    if config.unsafe:
        config.problems.append("unsafe configuration, HA will not act: %s" % config.unsafe)
    return config


def load_override_keeping_last_good(root=None, cache_enabled=True):
    """(settings, error): the override file's settings, or the last good ones plus the error."""
    try:
        settings = override.load_override(root)
    except override.OverrideError as exc:
        previous = cache.read_json(root, OVERRIDE_CACHE) if cache_enabled else None
        kept = OrderedDict()
        for name, item in (previous or {}).items():
            if name in schema.PARAMETERS and isinstance(item, dict):
                try:
                    param = schema.PARAMETERS[name]
                    kept[name] = override.Setting(name, pool_store.decode(param, item["raw"]), item["raw"],
                                                  int(item.get("line", 0)))
                except (ValueError, KeyError, TypeError):
                    continue
        return kept, str(exc)
    if cache_enabled:
        snapshot = {name: {"raw": s.raw, "line": s.line} for name, s in settings.items()}
        if snapshot != (cache.read_json(root, OVERRIDE_CACHE) or {}):
            try:
                cache.write_json(root, OVERRIDE_CACHE, snapshot)
            except OSError:
                pass
    return settings, None


def cached_pool(root=None):
    """(pool_uuid, other_config) of the last successful read, or (None, None)."""
    data = cache.read_json(root, POOL_CACHE)
    if not isinstance(data, dict) or not isinstance(data.get("other_config"), dict):
        return None, None
    return data.get("pool_uuid"), {str(k): str(v) for k, v in data["other_config"].items()}


def save_pool_cache(root, pool_uuid, other_config):
    """Keep the pool's values for when the master is silent; rewritten only when they changed.

    Why: every live read (several job runs per cycle) stored the same content again, with two fsyncs,
    and made the self_fence loop, which re-reads its configuration when this file changes, build it again.
    """
    data = {"pool_uuid": pool_uuid, "other_config": pool_store.relevant_keys(other_config)}
    if data != cache.read_json(root, POOL_CACHE):
        cache.write_json(root, POOL_CACHE, data)


def local_xe_timeout(root=None):
    """XE_TIMEOUT known without the network: override file, else cached pool copy, else default."""
    try:
        settings = override.load_override(root)
    except override.OverrideError:
        settings = {}
    _uuid, other = cached_pool(root)
    config = build_effective(other, settings, hostname="localhost")
    return float(config.get("XE_TIMEOUT"))


def effective_with_pool(root, pool_other_config, cache_enabled=True, **status):
    """The configuration in force given the pool's other_config (no network): the override file (its
    last good values when it is broken) and this host's name are read under `root`.

    The live read of the pool is halizard.xapi.pool_config.load_effective (XAPI is a layer above).
    """
    settings, override_error = load_override_keeping_last_good(root, cache_enabled)
    status.setdefault("pool_status", "given")
    return build_effective(pool_other_config, settings, local_hostname(root), override_error=override_error,
                           **status)
