"""FENCE_METHOD name -> agent, with slots for agents that arrive later.

Why: the core asks for "the agent" and never cares which one it is. Built-in
methods live in their own modules, imported only when chosen (an IPMI
library is only needed by pools that fence through IPMI). A name that is not
built in is a custom script agent, validated against path tricks.

Slot-in points (issue 8):
  - `ILO` / `IRMC`: modules `halizard.fence.ilo` / `halizard.fence.irmc`
    exposing `create(settings) -> FenceAgent`; until they exist, choosing
    them is a clear FenceConfigError.
  - `fence_<agent>`: module `halizard.fence.clusterlabs`, same `create`.
  - `register(name, factory)` / `register_prefix(prefix, factory)` for tests
    and plug-ins.
"""
import importlib

from halizard import paths
from halizard.fence.base import FenceConfigError, FenceSettings, check_action
from halizard.fence import script

BUILTIN_MODULES = {
    "POOL": "halizard.fence.pool",
    "XVM": "halizard.fence.xvm",
    "ILO": "halizard.fence.ilo",
    "IRMC": "halizard.fence.irmc",
}
PREFIX_MODULES = {"fence_": "halizard.fence.clusterlabs"}

_factories = {}
_prefix_factories = {}


def register(name, factory):
    """Make FENCE_METHOD `name` (case-insensitive) create agents with `factory(settings)`."""
    _factories[name.upper()] = factory


def register_prefix(prefix, factory):
    """Make every FENCE_METHOD starting with `prefix` create agents with `factory(settings)`."""
    _prefix_factories[prefix] = factory


def _module_factory(module_name, method):
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name == module_name:
            raise FenceConfigError("FENCE_METHOD %s is not available in this version" % method) from None
        raise
    return module.create


def factory_for(method):
    """The factory that builds agents for FENCE_METHOD `method`."""
    if not method:
        raise FenceConfigError("FENCE_METHOD is empty")
    key = method.upper()
    if key in _factories:
        return _factories[key]
    if key in BUILTIN_MODULES:
        return _module_factory(BUILTIN_MODULES[key], key)
    for prefix, factory in _prefix_factories.items():
        if method.startswith(prefix):
            return factory
    for prefix, module_name in PREFIX_MODULES.items():
        if method.startswith(prefix):
            return _module_factory(module_name, method)
    return script.create


def create_agent(settings):
    """The agent for `settings.method`; FenceConfigError when it cannot exist."""
    check_action(settings.action)
    return factory_for(settings.method)(settings)


def _text(config, name, default=""):
    value = config.get(name)
    if value is None:
        return default
    text = str(value).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return text


def settings_from_config(config, root=None):
    """FenceSettings from an effective configuration (anything with `.get(NAME)`).

    FENCE_FILE_LOC is placed under `root` like every host path, so a
    simulated host finds its agents in its own root.
    """
    file_loc = _text(config, "FENCE_FILE_LOC", paths.FENCE_DIR) or paths.FENCE_DIR
    return FenceSettings(
        method=_text(config, "FENCE_METHOD", "POOL") or "POOL",
        file_loc=paths.under(root, file_loc),
        action=check_action(_text(config, "FENCE_ACTION", "stop") or "stop"),
        ip_address=_text(config, "FENCE_IPADDRESS"),
        password=_text(config, "FENCE_PASSWD"),
        user=_text(config, "FENCE_USER"),
    )


def agent_from_config(config, root=None):
    """Shortcut: `create_agent(settings_from_config(config, root))`."""
    return create_agent(settings_from_config(config, root))
