"""The start of each cycle: may HA run at all this time, and the housekeeping.

Master: the pool HA field must be exactly `true` (`false`: HA off; missing:
never configured, off quietly; anything else: inactive plus an alert);
native XAPI HA on: refuse and alert (nothing is written: once native HA is
off again we resume by ourselves); the master left disabled by maintenance
mode re-enables itself; its health field says `master`; the takeover slave
is named (roles.choose_takeover); every enabled slave's health field follows
this cycle's verdicts (unknown leaves the field as it is).

Slave: lift its own suspension once the master marks it healthy.
"""


from dataclasses import dataclass
from typing import AbstractSet, Dict, Mapping, Optional, Sequence, Tuple

from halizard.core import actions as A
from halizard.core import fencing, health, roles
from halizard.core.model import HEALTH_FAILED, HEALTH_HEALTHY, HEALTH_MASTER, PoolView
from halizard.core.policy import Policy
from halizard.core.quorum import QuorumResult


@dataclass(frozen=True)
class CycleStart:
    """proceed: run the rest of the cycle; actions: housekeeping to do first."""

    proceed: bool
    actions: Tuple[A.Action, ...]
    why: str


def ha_enabled(pool: PoolView, policy: Policy) -> CycleStart:
    """The pool HA switch and the native-HA conflict (both roles)."""
    value = pool.ha_field
    if value is None:
        return CycleStart(False, (), "HA is not configured on this pool (%s is missing)" % policy.ha_field_key)
    if value == "false":
        return CycleStart(False, (), "HA is disabled for the pool")
    if value != "true":
        return CycleStart(False, (A.Alert(
            why="the pool HA field is invalid", function="check_ha_enabled",
            text="pool %s=%r is neither true nor false; HA is inactive" % (policy.XC_FIELD_NAME, value)),),
            "the pool HA field holds %r, so HA is inactive" % value)
    if pool.native_ha_enabled:
        return CycleStart(False, (A.Alert(
            why="native XAPI HA is enabled", function="check_xs_ha",
            text="XAPI's own HA is enabled on this pool; HA-Lizard will not act until it is disabled"),),
            "native XAPI HA is on, so HA-Lizard refuses to act")
    return CycleStart(True, (), "HA is enabled")


def master_start(pool: PoolView, policy: Policy, self_uuid: str,
                 verdicts: Optional[Mapping[str, health.HealthVerdict]] = None,
                 suspended: AbstractSet[str] = frozenset(), ranked_last: Sequence[str] = ()) -> CycleStart:
    """The master's checks and housekeeping before it looks after slaves and VMs (ranked_last: the
    membership's takeover_order, the hosts named takeover slave only after the others)."""
    gate = ha_enabled(pool, policy)
    if not gate.proceed:
        return gate
    me = pool.host(self_uuid)
    if me is None:
        raise ValueError("this host %s is not in the pool view" % self_uuid)
    out = []
    if not me.enabled:
        out.append(A.EnableHost(why="the master is disabled (maintenance mode left on), so it re-enables itself",
                                host_uuid=self_uuid))
    if me.health_field != HEALTH_MASTER:
        out.append(A.SetHostHealth(why="this host is the master", host_uuid=self_uuid, value=HEALTH_MASTER))
    verdicts = verdicts or {}
    for h in pool.hosts:
        if h.uuid == self_uuid or not h.enabled or h.uuid not in verdicts:
            continue
        v = verdicts[h.uuid]
        wanted = {health.HEALTHY: HEALTH_HEALTHY, health.FAILED: HEALTH_FAILED}.get(v.state)
        if wanted is not None and h.health_field != wanted:
            out.append(A.SetHostHealth(why="%s: %s" % (h.name_label or h.uuid, v.why), host_uuid=h.uuid,
                                       value=wanted))
    choice = roles.choose_takeover(pool, {u: v.state for u, v in verdicts.items()}, suspended, ranked_last)
    if choice.value != pool.autopromote_uuid:
        out.append(A.SetAutopromote(why=choice.why, value=choice.value))
    return CycleStart(True, tuple(out), "HA is enabled and this host is the master")


def slave_start(pool: PoolView, policy: Policy, self_uuid: str, suspended: bool) -> CycleStart:
    """A slave whose master answers: the HA switch, then lifting its suspension."""
    gate = ha_enabled(pool, policy)
    if not gate.proceed:
        return gate
    me = pool.host(self_uuid)
    own = me.health_field if me else None
    step = roles.suspension_step(suspended, own)
    if step.allowed:
        return CycleStart(True, (A.ClearSuspension(why=step.why),), step.why)
    if suspended:
        return CycleStart(False, (), step.why)
    return CycleStart(True, (), "HA is enabled and this host is a slave")


def watched_slaves(pool: PoolView, self_uuid: str) -> Tuple[str, ...]:
    """The hosts the master probes and decides: every enabled slave, and every disabled one that still
    runs guests (an evacuation that stopped half-way): if it dies, its VMs must not stay Running in the
    database forever. A disabled host never votes (quorum counts enabled hosts only)."""
    return tuple(h.uuid for h in pool.hosts if h.uuid != self_uuid and (h.enabled or h.guests > 0))


def slave_failures(pool: PoolView, policy: Policy, self_uuid: str,
                   probes: Mapping[str, health.ProbeResult], quorum_result: QuorumResult, now: float,
                   fence_outcomes: Optional[Mapping[str, str]] = None) -> Dict[str, fencing.FailureDecision]:
    """fencing.decide_host_failure for every watched slave (watched_slaves), keyed by host uuid.

    probes: host uuid -> health.ProbeResult (streak carried); fence_outcomes:
    host uuid -> recorded fence outcome for the current failure. Each host is
    decided on its own, so the executor may handle them in parallel.
    """
    fence_outcomes = fence_outcomes or {}
    out: Dict[str, fencing.FailureDecision] = {}
    for uuid in watched_slaves(pool, self_uuid):
        out[uuid] = fencing.decide_host_failure(pool, uuid, probes.get(uuid), quorum_result, policy, now,
                                                fence_outcomes.get(uuid))
    return out
