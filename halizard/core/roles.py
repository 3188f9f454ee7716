"""Who may act: the takeover slave, HA suspension, and two masters after a takeover.

The master publishes one takeover slave every cycle among healthy, enabled,
non-suspended slaves: the one with the smallest uuid (`autopromote_uuid`;
with none eligible the value is `none_available`). When the master is
silent, a slave's cached copy of that value may be stale (it missed an
update), so the slaves do not act on it: the one that acts is the enabled
slave with the smallest uuid among those this round's probes reach
(`takeover_candidate`), which every slave computes from the same data and
which is the published one while it is alive. Right before the emergency
transition a last check (`may_transition`) makes sure no peer answers as
master, follows another master or stopped answering (it may be
transitioning), that quorum still holds and that this host is not
self-fencing.

An old master that powers on after a takeover still believes it is master
of its own (stale) database. `resolve_masters` tells each side what to do
from one probe round and the takeover record of its own database: the
master that replaced the other recovers it as a slave (pool.recover_slaves),
the other stands down (starts nothing) meanwhile.
"""


from dataclasses import dataclass
from typing import AbstractSet, Mapping, Optional, Sequence, Tuple

from halizard.core import health
from halizard.core.health import Login
from halizard.core.model import AUTOPROMOTE_NONE, HEALTH_HEALTHY, PoolView
from halizard.core.policy import Policy
from halizard.core.quorum import QuorumResult
from halizard.core.strenum import StrEnum


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
                    suspended: AbstractSet[str] = frozenset(), ranked_last: Sequence[str] = ()) -> Choice:
    """The master's pick of the one slave allowed to take over a dead master.

    health_of: host uuid -> health.HEALTHY/FAILED/UNKNOWN from this cycle's
    probes; suspended: hosts known to have suspended their HA. The smallest
    uuid wins, after the hosts of `ranked_last` (in its order): the rule the
    slaves apply when the master is silent (takeover_candidate); it changes
    only when health, suspension or the membership does.
    """
    eligible = sorted((
        h.uuid for h in pool.hosts
        if h.uuid != pool.master_uuid and h.enabled and h.uuid not in suspended
        and health_of.get(h.uuid) == health.HEALTHY
    ), key=_takeover_rank(ranked_last))
    if not eligible:
        return Choice(AUTOPROMOTE_NONE, "no enabled, healthy, unsuspended slave can take over")
    return Choice(eligible[0], "%s is the first healthy enabled slave by uuid%s" % (
        _name(pool, eligible[0]), " (returned hosts rank last)" if ranked_last else ""))


def takeover_candidate(pool: PoolView, self_uuid: str, reachable: AbstractSet[str],
                       ranked_last: Sequence[str] = (), voteless: AbstractSet[str] = frozenset()) -> Optional[str]:
    """The one slave that acts on a silent master: the smallest uuid among the enabled slaves of
    the cached view that this round reached (this host counts itself); the hosts of `ranked_last`
    come after the others, in its order (core.membership.takeover_order: a host that was excluded
    as dead ranks after the hosts that never left, in every copy of the membership, so a returned
    host without a vote yet is never the one the pool waits for). `voteless`: peers that answered
    the peer query that they have no vote (a host back from the dead whose exclusion this host's
    copy predates: the master died before this host read it); they can never act, so they are
    skipped.

    Why not the cached autopromote_uuid: a slave that missed the master's last update keeps an
    older value, and two slaves that each believe they are the takeover slave both take over
    (issue 13 finding 3). The reached set is the same on every slave unless the network is split,
    and the choice is the published one while that host is alive.
    """
    present = (set(reachable) - set(voteless)) | {self_uuid}
    eligible = sorted((h.uuid for h in pool.hosts if h.uuid != pool.master_uuid and h.enabled and h.uuid in present),
                      key=_takeover_rank(ranked_last))
    return eligible[0] if eligible else None


def _takeover_rank(ranked_last: Sequence[str]):
    """Sort key for the takeover slave: by uuid, the hosts of `ranked_last` after the others in its order."""
    last = {u: i for i, u in enumerate(ranked_last)}
    return lambda u: (last.get(u, -1), u)


def _name(pool: PoolView, uuid: str) -> str:
    h = pool.host(uuid)
    return (h.name_label or uuid) if h else uuid


def may_take_over(self_uuid: str, autopromote: Optional[str], master_verdict: health.HealthVerdict,
                  suspended: bool, policy: Policy) -> Permission:
    """A slave's decision whether it is the one to act on a silent master.

    autopromote: the takeover slave this host determined (takeover_candidate,
    or the stored value when no probe round is at hand).
    """
    if suspended:
        return Permission(False, "HA is suspended on this host until the master marks it healthy")
    if master_verdict.state != health.FAILED:
        return Permission(False, "the master is not failed (%s)" % master_verdict.why)
    if not policy.PROMOTE_SLAVE:
        return Permission(False, "PROMOTE_SLAVE=0")
    if autopromote != self_uuid:
        return Permission(False, "this host is not the takeover slave (the takeover slave is %s)" % (autopromote,))
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


def may_transition(old_master_address: str, answered: AbstractSet[str],
                   now: Mapping[str, Tuple[str, Optional[str]]], quorum: QuorumResult,
                   self_fencing: bool, policy: Policy) -> Permission:
    """The last check right before pool.emergency_transition_to_master (issue 13 finding 3).

    answered: peers whose xapi answered in the round that started this takeover; now: every
    peer's login outcome (state, the master HOST_IS_SLAVE named) of a round made just now;
    quorum: computed from that round. Any peer answering as master, following a master other
    than the old one, or answering earlier but silent now (it may be in its own transition)
    stops the takeover; so do a lost quorum and a self-fence under way.
    """
    if self_fencing:
        return Permission(False, "this host is self-fencing")
    if policy.FENCE_QUORUM_REQUIRED and not quorum.has_quorum:
        return Permission(False, "quorum lost before the transition: %s" % quorum.why)
    old = _bare(old_master_address)
    for uuid, (state, named) in sorted(now.items()):
        if state == Login.MASTER:
            return Permission(False, "%s answers as master" % uuid)
        if state == Login.SLAVE and named and _bare(named) != old:
            return Permission(False, "%s follows another master at %s" % (uuid, named))
    for uuid in sorted(answered):
        if now.get(uuid, ("", None))[0] not in (Login.MASTER, Login.SLAVE):
            return Permission(False, "%s answered the probe round but not the last check: it may be "
                                     "taking over itself" % uuid)
    return Permission(True, "no peer answers as master or is transitioning, quorum holds")


class Conflict(StrEnum):
    """What resolve_masters tells this master to do about other hosts that answer as master."""

    ALONE = "alone"            # no other host of this database answers as master
    RECOVER = "recover"        # another host answers as master and it is the stale one: recover it as a slave
    STAND_DOWN = "stand_down"  # this host is the stale master: start nothing, wait to be recovered


ALONE, RECOVER, STAND_DOWN = Conflict.ALONE, Conflict.RECOVER, Conflict.STAND_DOWN  # the names callers use


@dataclass(frozen=True)
class MasterConflict:
    """What this master does about other hosts of its database that answer as master, and why.

    strays: slaves that still follow the master this host's takeover replaced (a
    recover_slaves missed them); RECOVER pulls them over together with `others`.
    """

    action: Conflict
    others: Tuple[str, ...]
    why: str
    strays: Tuple[str, ...] = ()


def _bare(address: Optional[str]) -> str:
    """An address as HOST_IS_SLAVE or a host record gives it, without scheme, port-less slash or case."""
    text = (address or "").strip().lower()
    for scheme in ("https://", "http://"):
        if text.startswith(scheme):
            text = text[len(scheme):]
    return text.rstrip("/")


def _followed_elsewhere(pool: PoolView, self_uuid: str, own: str, masters: Tuple[str, ...],
                        logins: Mapping[str, Tuple[str, Optional[str]]],
                        replaced: Optional[str]) -> Tuple[Tuple[str, ...], Tuple[str, str]]:
    """(strays, the first slave that follows a master this host cannot account for, with its address).

    A HOST_IS_SLAVE naming neither this host nor a peer that answers as master is evidence of
    another master (issue 13 finding 2), unless it names the master this host's takeover
    replaced: then the slave merely missed a recover_slaves (a stray to pull over). Marked
    failed or disabled is no such proof: a stale database can say that of the newer master.
    """
    by_address = {_bare(h.address): h for h in pool.hosts if h.address}
    strays = []
    for uuid, (state, named) in sorted(logins.items()):
        if uuid == self_uuid or state != Login.SLAVE or not named or _bare(named) == own:
            continue
        target = by_address.get(_bare(named))
        if target is not None and target.uuid in masters:
            continue
        if target is not None and replaced and target.uuid == replaced:
            strays.append(uuid)
            continue
        return tuple(strays), (uuid, named)
    return tuple(strays), ("", "")


@dataclass(frozen=True)
class TakeoverRecord:
    """What a master's own database says of its last takeover (pool other_config, ha-lizard-takeover)."""

    count: int = 0                  # takeovers this database went through
    replaced: Optional[str] = None  # uuid of the master the last one replaced


def parse_takeover(text: Optional[str]) -> TakeoverRecord:
    """The record from its text "<count> <uuid>"; an empty record when missing or malformed."""
    parts = str(text or "").split()
    try:
        count = int(parts[0]) if parts else 0
    except ValueError:
        return TakeoverRecord()
    return TakeoverRecord(max(0, count), parts[1] if len(parts) > 1 else None)


def next_takeover(text: Optional[str], old_master: str) -> str:
    """The record a new master writes once its xapi answers as master (the same one again on a resume)."""
    record = parse_takeover(text)
    if record.replaced == old_master:
        return "%d %s" % (max(1, record.count), old_master)
    return "%d %s" % (record.count + 1, old_master)


def tie_break_due(since: Optional[float], now: float, policy: Policy) -> bool:
    """True once this master has stood down before the same other master(s) for three full cycles.

    Why: a master that took over from the other one recovers it within a cycle; when neither
    took over from the other (an emergency transition by hand, two concurrent takeovers) both
    stand down, and after this wait both apply the same tie rule, so neither waits forever.
    """
    if since is None:
        return False
    cycle = policy.MONITOR_DELAY + policy.XAPI_COUNT * (policy.XE_TIMEOUT + policy.XAPI_DELAY)
    return now - since >= 3 * cycle


def masters_among(logins: Mapping[str, Tuple[str, Optional[str]]], self_uuid: str) -> Tuple[str, ...]:
    """The peers of a probe round that answered as master."""
    return tuple(sorted(u for u, (state, _named) in logins.items() if state == Login.MASTER and u != self_uuid))


def resolve_masters(pool: PoolView, self_uuid: str,
                    logins: Mapping[str, Tuple[str, Optional[str]]],
                    replaced: Optional[str] = None, tie_due: bool = False) -> MasterConflict:
    """Decide between this master and every peer that accepted a login as master.

    logins: peer uuid -> (login outcome "master"/"slave"/..., the master
    address HOST_IS_SLAVE named or None), from this cycle's probe round;
    replaced: the master this host's own takeover replaced (its database's
    TakeoverRecord); tie_due: tie_break_due() for this standoff.

    A slave that follows a master this host cannot see is evidence of
    another master: this host stands down until that is resolved. A master
    that this host replaced is stale: this host recovers it as a slave. Any
    other master may be the newer one (it may have replaced this host), so
    this host stands down and waits to be recovered; when neither side
    replaced the other, both are still standing down at tie_due, and then
    the smallest uuid recovers the others. Both sides compute the same answer
    from what each knows, so exactly one acts.
    """
    others = masters_among(logins, self_uuid)
    me = pool.host(self_uuid)
    own_address = me.address if me is not None else ""
    strays, (follower, elsewhere) = _followed_elsewhere(pool, self_uuid, _bare(own_address), others, logins,
                                                        replaced)
    if follower:
        target = next((h for h in pool.hosts if h.address and _bare(h.address) == _bare(elsewhere)), None)
        return MasterConflict(STAND_DOWN, others, "%s follows another master at %s%s: this host starts nothing "
                              "until that is resolved" % (_name(pool, follower), elsewhere,
                                                          " (%s)" % _name(pool, target.uuid) if target else ""))
    if not others:
        if strays:
            return MasterConflict(RECOVER, (), "slave(s) %s still follow the master this host took over from"
                                  % ", ".join(_name(pool, u) for u in strays), strays)
        return MasterConflict(ALONE, (), "no other host of this pool answers as master")
    unsettled = [u for u in others if u != replaced]
    if not unsettled:
        return MasterConflict(RECOVER, others, "%s answers as master, and this host took over from it: it is the "
                              "stale master" % _name(pool, others[0]), strays)
    names = ", ".join(_name(pool, u) for u in unsettled)
    if not tie_due:
        return MasterConflict(STAND_DOWN, others, "%s answer(s) as master and this host did not take over from it: it "
                              "may hold the newer takeover; waiting to be recovered as its slave" % names)
    winner = min([self_uuid] + unsettled)
    if winner == self_uuid:
        return MasterConflict(RECOVER, others, "%s and this host stood down before each other; the smallest uuid "
                              "(this host) recovers the other(s)" % names, strays)
    return MasterConflict(STAND_DOWN, others, "%s and this host stood down before each other; the smallest uuid "
                          "(%s) recovers the other(s)" % (names, _name(pool, winner)))
