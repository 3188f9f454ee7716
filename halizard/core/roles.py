"""Who may act: the takeover slave (autopromote) and HA suspension.

The master names one takeover slave every cycle among healthy, enabled,
non-suspended slaves (the old product ignored health). The choice is
deterministic and sticky: the current winner stays while it is eligible, so
the stored value does not flap; otherwise the eligible slave with the
smallest uuid wins. With none eligible the value is `none_available`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AbstractSet, Mapping, Optional

from halizard.core import health
from halizard.core.model import AUTOPROMOTE_NONE, HEALTH_HEALTHY, PoolView
from halizard.core.policy import Policy
from halizard.core.quorum import QuorumResult


@dataclass(frozen=True)
class Choice:
    """The autopromote value and why."""

    value: str
    why: str


@dataclass(frozen=True)
class Permission:
    """Whether this host may do something, and why."""

    allowed: bool
    why: str


def choose_takeover(pool: PoolView, health_of: Mapping[str, str],
                    suspended: AbstractSet[str] = frozenset()) -> Choice:
    """The master's pick of the one slave allowed to take over a dead master.

    health_of: host uuid -> health.HEALTHY/FAILED/UNKNOWN from this cycle's
    probes; suspended: hosts known to have suspended their HA.
    """
    eligible = sorted(
        h.uuid for h in pool.hosts
        if h.uuid != pool.master_uuid and h.enabled and h.uuid not in suspended
        and health_of.get(h.uuid) == health.HEALTHY
    )
    if not eligible:
        return Choice(AUTOPROMOTE_NONE, "no enabled, healthy, unsuspended slave can take over")
    current = pool.autopromote_uuid
    if current in eligible:
        return Choice(current, "the current takeover slave %s is still healthy" % _name(pool, current))
    return Choice(eligible[0], "%s is the first healthy enabled slave by uuid" % _name(pool, eligible[0]))


def _name(pool: PoolView, uuid: str) -> str:
    h = pool.host(uuid)
    return (h.name_label or uuid) if h else uuid


def may_take_over(self_uuid: str, autopromote: Optional[str], master_verdict: health.HealthVerdict,
                  suspended: bool, policy: Policy) -> Permission:
    """A slave's decision whether it is the one to act on a silent master.

    autopromote is the stored value (the last one read when xapi is silent).
    """
    if suspended:
        return Permission(False, "HA is suspended on this host until the master marks it healthy")
    if master_verdict.state != health.FAILED:
        return Permission(False, "the master is not failed (%s)" % master_verdict.why)
    if not policy.PROMOTE_SLAVE:
        return Permission(False, "PROMOTE_SLAVE=0")
    if autopromote != self_uuid:
        return Permission(False, "this host is not the takeover slave (autopromote is %s)" % (autopromote,))
    return Permission(True, "the master failed (%s) and this host is the takeover slave" % master_verdict.why)


def suspension_step(suspended: bool, own_health_field: Optional[str]) -> Permission:
    """Slave: may a suspended host lift its suspension? Only when the master wrote `healthy`."""
    if not suspended:
        return Permission(False, "this host is not suspended")
    if own_health_field == HEALTH_HEALTHY:
        return Permission(True, "the master marks this host healthy again")
    return Permission(False, "the master has not marked this host healthy (it says %r)" % (own_health_field,))


def may_start_vms(is_master: bool, suspended: bool, quorum: Optional[QuorumResult],
                  self_fencing: bool, policy: Policy) -> Permission:
    """Whether this host may run the VM plan this cycle.

    Never while suspended or self-fencing (it would restart what it just
    stopped); never without quorum when FENCE_QUORUM_REQUIRED; a slave only
    with SLAVE_VM_STAT (XAPI declines the loser of a race to start a VM).
    """
    if suspended:
        return Permission(False, "HA is suspended on this host")
    if self_fencing:
        return Permission(False, "this host is self-fencing")
    if not is_master and not policy.SLAVE_VM_STAT:
        return Permission(False, "slaves start VMs only with SLAVE_VM_STAT=1")
    if policy.FENCE_QUORUM_REQUIRED and quorum is not None and not quorum.has_quorum:
        return Permission(False, "no quorum (%s)" % quorum.why)
    return Permission(True, "this host may start VMs")
