"""Per-host health from probe results.

A probe round for one peer is XAPI_COUNT tries, each a network probe and then
proof that xapi answers (a login answered with HOST_IS_SLAVE counts). The
result folds into one of three verdicts:

* healthy - xapi answered in some try;
* failed  - every one of XAPI_COUNT tries completed and none got an answer;
* unknown - fewer tries than XAPI_COUNT completed (a probe still running,
  cut short, or no data). Unknown is never treated as dead.

"Failed" is about service, not death: a failed host keeps its VMs until its
death is proven (fencing.py). `isolated` (the network probe failed in every
try) is what the self-fence deadline proof needs: a host we can still reach
by network has not lost quorum and will not self-fence.
"""


from dataclasses import dataclass
from typing import Optional

from halizard.core.policy import Policy
from halizard.core.strenum import StrEnum


class Health(StrEnum):
    """A peer's verdict (its value is the word in the host-health report and the logs)."""

    HEALTHY = "healthy"
    FAILED = "failed"
    UNKNOWN = "unknown"


HEALTHY, FAILED, UNKNOWN = Health.HEALTHY, Health.FAILED, Health.UNKNOWN  # the names callers use


class Login(StrEnum):
    """What one empty login told of a peer's xapi (probes.xapi_alive): MASTER or SLAVE is an answer."""

    MASTER = "master"            # SESSION_AUTHENTICATION_FAILED (or a login accepted)
    SLAVE = "slave"              # HOST_IS_SLAVE
    REFUSED = "refused"          # xapi answered with another failure code
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    GARBAGE = "garbage"          # an answer that is not XAPI at all


@dataclass(frozen=True)
class ProbeResult:
    """What the probes saw of one peer in its current round.

    tries: completed tries in this round; xapi_ok: some try got an xapi answer;
    network_ok: True if any try reached the host by network, False if every
    completed try failed to, None if not measured; first_failure_at: clock time
    the current failure streak began (start of the first failed try), None
    while the host answers; observed_at: clock time the round ended.
    """

    tries: int
    xapi_ok: bool
    network_ok: Optional[bool] = None
    first_failure_at: Optional[float] = None
    observed_at: Optional[float] = None  # clock time this round ended: the age of what it proves

    def __post_init__(self) -> None:
        if self.tries < 0:
            raise ValueError("tries must not be negative")


@dataclass(frozen=True)
class HealthVerdict:
    """A host's health with the sentence that explains it."""

    state: Health
    isolated: bool
    why: str


def classify(probe: Optional[ProbeResult], policy: Policy) -> HealthVerdict:
    """Fold one probe round into healthy / failed / unknown."""
    if probe is None:
        return HealthVerdict(UNKNOWN, False, "no probe result yet, so the host is not judged")
    if probe.xapi_ok:
        return HealthVerdict(HEALTHY, False, "xapi answered a probe")
    if probe.tries < policy.XAPI_COUNT:
        return HealthVerdict(
            UNKNOWN, False,
            "xapi did not answer %d of %d tries yet, so the host is not judged"
            % (probe.tries, policy.XAPI_COUNT),
        )
    isolated = probe.network_ok is False
    if isolated:
        why = "neither the network nor xapi answered in %d tries" % probe.tries
    else:
        why = "xapi did not answer in %d tries although the host may be reachable by network" % probe.tries
    return HealthVerdict(FAILED, isolated, why)


def carry_streak(previous: Optional[ProbeResult], current: ProbeResult,
                 max_gap: Optional[float] = None) -> ProbeResult:
    """The current round with the isolation streak started by earlier rounds.

    A probe round only knows when its own first failed try began; the
    self-fence deadline is measured from the start of the first try of the
    whole streak of rounds in which the host was unreachable by network.
    Keep the earliest start while rounds stay isolated; a round that reached
    the host by network (or got an answer) ends the streak, and the next
    isolated round starts a new one. With `max_gap` a proof has an age: a
    previous round that ended more than `max_gap` seconds before this one
    (HA was off, the service stopped, another boot) or at an unknown time
    proves nothing about the time between, so the streak starts again.
    """
    if (previous is None or current.xapi_ok or previous.xapi_ok
            or current.network_ok is not False or previous.network_ok is not False
            or previous.first_failure_at is None):
        return current
    if max_gap is not None:
        if previous.observed_at is None or current.observed_at is None:
            return current
        gap = current.observed_at - previous.observed_at
        if gap < 0 or gap > max_gap:
            return current
    start = previous.first_failure_at
    if current.first_failure_at is not None:
        start = min(start, current.first_failure_at)
    return ProbeResult(tries=current.tries, xapi_ok=False, network_ok=False, first_failure_at=start,
                       observed_at=current.observed_at)


def streak_max_gap(policy: Policy) -> float:
    """Longest pause between two probe rounds that still continues a failure streak: two round
    periods (one missed cycle is tolerated)."""
    r = policy.XAPI_COUNT * policy.XE_TIMEOUT + (policy.XAPI_COUNT - 1) * policy.XAPI_DELAY
    return 2.0 * (max(policy.MONITOR_DELAY, r) + r)
