"""The fence agent contract: every call has a deadline and returns a verified result.

Why: the old product trusted fences that did not happen (ILO always "ok",
an unreachable iRMC counted as fenced, XVM `reset` sent nothing). Here an
agent answers with a `FenceResult` whose `verified` is True only when the
agent has PROOF that the requested action took effect (for `stop`: the power
is off). Unknown, timed out, unreachable, garbage output: `verified=False`.
Agents never raise for operational failures; they raise `FenceConfigError`
only for configuration mistakes (bad method name, missing map file...),
which callers also treat as "not fenced".

Deadlines are absolute `time.monotonic()` values (see halizard.probes.deadline).
"""
from dataclasses import dataclass

from halizard.core.fencing import PowerState

ACTIONS = ("start", "stop", "reset")

# FenceResult.state values, by the names the agents use
OFF, ON, RESET = PowerState.OFF, PowerState.ON, PowerState.RESET
UNKNOWN, FAILED, UNPROVEN = PowerState.UNKNOWN, PowerState.FAILED, PowerState.UNPROVEN


class FenceConfigError(Exception):
    """Fencing is misconfigured (method name, agent file, map file, address)."""


@dataclass(frozen=True)
class FenceResult:
    """What a fence or status call achieved. Only `verified=True` proves anything."""

    verified: bool
    state: PowerState
    detail: str = ""

    @classmethod
    def proven(cls, state, detail=""):
        return cls(True, state, detail)

    @classmethod
    def unproven(cls, state, detail=""):
        return cls(False, state, detail)


@dataclass(frozen=True)
class FenceSettings:
    """The FENCE_* parameters an agent needs, already rooted and typed.

    `password` is a secret: never log it, never put it on a command line.
    `user` is for BMC agents (issue 8); `options` carries extra per-agent
    parameters without changing this contract.
    """

    method: str
    file_loc: str
    action: str = "stop"
    ip_address: str = ""
    password: str = ""
    user: str = ""
    options: tuple = ()

    def __repr__(self):  # the password never reaches a log or traceback
        return ("FenceSettings(method=%r, file_loc=%r, action=%r, ip_address=%r, user=%r, password=%s)"
                % (self.method, self.file_loc, self.action, self.ip_address, self.user,
                   "'***'" if self.password else "''"))

    __str__ = __repr__


def check_action(action):
    """Raise FenceConfigError unless `action` is start, stop or reset."""
    if action not in ACTIONS:
        raise FenceConfigError("invalid fence action %r (expected one of %s)" % (action, ", ".join(ACTIONS)))
    return action


class FenceAgent:
    """Base class of every agent. Subclasses implement `fence` and `status`.

    `proves_death`: False for agents that cannot prove a host is powered off
    whatever they return (POOL). The core must then rely on another proof
    (see docs/fencing.md) before restarting that host's VMs.
    """

    name = "?"
    proves_death = True

    def __init__(self, settings):
        self.settings = settings

    def fence(self, host_uuid, action, deadline):
        """Carry out `action` (start|stop|reset) on the host; FenceResult, never raises for failures."""
        raise NotImplementedError

    def status(self, host_uuid, deadline):
        """Read the host's power state without changing it: state ON/OFF verified, or UNKNOWN."""
        raise NotImplementedError

    def __repr__(self):
        return "<%s %s>" % (type(self).__name__, self.name)
