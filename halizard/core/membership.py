"""Membership: which hosts vote, with an epoch (last man standing).

Why: a host proven dead whose VMs were recovered must stop counting in the
expected votes, or the pool cannot survive a second failure (3 hosts: after
one dies, the next one's loss leaves 1 of 3). The anchor is corosync
votequorum's last_man_standing (expected votes shrink after a loss) and
wait_for_all (a host that comes back counts only once the pool agreed).

The membership lives in the pool database (pool other_config key
`ha-lizard-membership`, written only by the master), as
"<epoch> <excluded uuid>,<excluded uuid>..."; every host caches it with the
boot id under which it read it. Voters are the enabled hosts minus the
excluded ones. Rules:

* A change takes effect in two steps (Raft's joint consensus): until every
  voter of the new membership has acknowledged the new epoch (its host
  other_config `ha-lizard-membership-epoch`), quorum needs a majority of
  both the new and the last acknowledged membership. Without it, a host
  whose copy still lags (one read cycle) would count the excluded hosts,
  and with them could form a second majority of the old membership.
* Only a host proven dead (verified fence, or the timed wait with a strict
  majority) is excluded, each exclusion one epoch up.
* A host has no vote, and so no quorum at all, while it is excluded or while
  its copy of the membership was read before its last boot (service start)
  or before a quorum loss long enough for the others to prove it dead
  (stale_after): it cannot know what the pool decided meanwhile, and
  counting itself from an older view could make a majority out of hosts the
  pool already left behind.
* The master re-admits an excluded host once it answers as a healthy
  member again (one epoch up, one host at a time, never while another change
  is pending); the host votes from its next fresh read.
* A single re-admission pending counts the new voters alone (Raft's
  single-server change): any majority of the old voters and any majority of
  the old voters plus one host share a host, so no second majority can form,
  and a master lost meanwhile does not block the survivors for ever. An
  exclusion pending keeps the joint rule (its old majority may include the
  excluded hosts, which a lagging copy still counts).
* Re-admitted hosts rank after the others as the takeover slave, in the order
  they came back (`readmitted`): every copy, older or newer than a
  re-admission, puts a returned host after the hosts that never left, so two
  slaves with different copies never both believe they are the takeover slave.
"""


from dataclasses import dataclass, replace
from typing import AbstractSet, FrozenSet, Iterable, Optional, Sequence, Tuple


class MembershipError(ValueError):
    """The stored membership text is malformed."""


@dataclass(frozen=True)
class Membership:
    """epoch: how many changes the pool made; excluded: hosts without a vote; joint: while a change
    is not acknowledged by every voter, the excluded set every quorum must also hold a majority of
    (the last acknowledged membership, or a pending single re-admission's); None when nothing is
    pending; readmitted: hosts re-admitted, oldest first (they rank last as the takeover slave)."""

    epoch: int = 0
    excluded: FrozenSet[str] = frozenset()
    joint: Optional[FrozenSet[str]] = None
    readmitted: Tuple[str, ...] = ()


def parse(text: Optional[str]) -> Membership:
    """The membership stored as `text`; empty or missing: epoch 0, nobody excluded."""
    text = (text or "").strip()
    if not text:
        return Membership()
    parts = text.split()
    keys = parts[2::2]
    words = dict(zip(keys, parts[3::2]))
    if not parts[0].isdigit() or len(parts) > 2 and len(parts) % 2 or keys not in ([], ["joint"], ["readmitted"],
                                                                 ["joint", "readmitted"]):
        raise MembershipError("membership %r: not '<epoch> <excluded> [joint <excluded>] [readmitted <hosts>]'"
                              % text[:80])

    def uuids(word):
        return [u for u in word.split(",") if u and u != "-"]
    excluded = frozenset(uuids(parts[1])) if len(parts) > 1 else frozenset()
    joint = frozenset(uuids(words["joint"])) if "joint" in words else None
    return Membership(int(parts[0]), excluded, joint, tuple(uuids(words.get("readmitted", ""))))


def format_text(m: Membership) -> str:
    """The stored form (parse's inverse): '<epoch> <excluded,...|-> [joint <excluded,...|->]
    [readmitted <uuid,...>]'."""
    text = "%d %s" % (m.epoch, ",".join(sorted(m.excluded)) or "-")
    if m.joint is not None:
        text += " joint %s" % (",".join(sorted(m.joint)) or "-")
    if m.readmitted:
        text += " readmitted %s" % ",".join(m.readmitted)
    return text


def single_readmission(m: Membership) -> bool:
    """Whether the pending change adds exactly one voter to the joint membership (and removes none)."""
    return m.joint is not None and m.excluded < m.joint and len(m.joint - m.excluded) == 1


def _changed(m: Membership, excluded: FrozenSet[str], readmitted: Sequence[str] = ()) -> Membership:
    """One epoch up; the membership every quorum must also hold a majority of stays in `joint` until
    commit(): the last acknowledged one, or a pending single re-admission's (its majorities meet
    those of the membership before it, so a quorum of both is safe, and a master lost while it was
    pending cannot leave the survivors counting a tie of the older one for ever)."""
    joint = m.excluded if m.joint is None or single_readmission(m) else m.joint
    order = tuple(u for u in m.readmitted if u not in excluded and u not in readmitted) + tuple(readmitted)
    return Membership(m.epoch + 1, excluded, joint, order)


def commit(m: Membership) -> Membership:
    """Every voter acknowledged epoch m.epoch: the joint rule ends (same epoch)."""
    return replace(m, joint=None)


def acknowledged(m: Membership, voters: AbstractSet[str], acks: dict) -> bool:
    """Whether every voter of `m` read this epoch (acks: {host uuid: the epoch it last read})."""
    return all(acks.get(u, -1) >= m.epoch for u in voters)


def exclude(m: Membership, host_uuids: Iterable[str]) -> Membership:
    """`m` with the proven-dead `host_uuids` excluded, one epoch up (unchanged when nothing new)."""
    new = frozenset(host_uuids) - m.excluded
    if not new:
        return m
    return _changed(m, m.excluded | new)


def readmit(m: Membership, host_uuids: Iterable[str]) -> Membership:
    """`m` with the first excluded host of `host_uuids` voting again, one epoch up; unchanged when
    none was excluded or while a change is pending (single_readmission needs one voter added to an
    acknowledged membership)."""
    back = sorted(m.excluded & frozenset(host_uuids))[:1]
    if not back or m.joint is not None:
        return m
    return _changed(m, m.excluded - frozenset(back), back)


def to_readmit(m: Membership, healthy: AbstractSet[str], enabled: AbstractSet[str]) -> FrozenSet[str]:
    """The excluded host the master re-admits now: enabled again and judged healthy this round; one
    at a time and none while a change is pending (single_readmission's rule needs one voter added
    to an acknowledged membership)."""
    ready = sorted(u for u in m.excluded if u in healthy and u in enabled)
    return frozenset(ready[:1]) if m.joint is None else frozenset()


def takeover_order(m: Membership) -> Tuple[str, ...]:
    """The hosts that rank last as the takeover slave, in this order: the re-admitted ones (oldest
    first), then the excluded ones (roles.takeover_candidate's ranked_last)."""
    return tuple(u for u in m.readmitted if u not in m.excluded) + tuple(sorted(m.excluded))


@dataclass(frozen=True)
class Vote:
    """What this host counts: the voters, whether it votes itself, and why not; joint_voters: the
    voters of the last acknowledged membership while a change is pending (quorum needs a majority
    of both, as in Raft's joint consensus), else None."""

    voters: FrozenSet[str]
    member: bool
    why: str
    joint_voters: Optional[FrozenSet[str]] = None


def vote(self_uuid: str, enabled: Iterable[str], m: Optional[Membership], fresh: bool) -> Vote:
    """This host's voters and vote.

    m: the membership this host last read (None: the pool never wrote one,
    everyone votes); fresh: it was read during this boot and after this
    host's last self-fence began.
    """
    enabled = frozenset(enabled)
    if m is None:
        return Vote(enabled, True, "")
    voters = enabled - m.excluded
    joint = None if m.joint is None or single_readmission(m) else enabled - m.joint
    if self_uuid in m.excluded:
        return Vote(voters, False, "this host was excluded as dead (membership epoch %d) and waits for "
                                   "re-admission" % m.epoch)
    if not fresh:
        return Vote(voters, False, "this host's copy of the membership (epoch %d) is older than its last "
                                   "reboot or self-fence; it waits for re-admission" % m.epoch)
    return Vote(voters, True, "", joint)


def stale_after(recovery_wait: float, isolation_detect: float) -> float:
    """Seconds without quorum after which this host's copy is stale: by then the others' timed wait
    (counted from their first failed probe, at most `isolation_detect` before this host noticed)
    may have ended and excluded it."""
    return max(0.0, recovery_wait - isolation_detect)


def describe(m: Membership, names: Optional[dict] = None) -> str:
    """One line for status output."""
    names = names or {}
    if not m.excluded:
        return "membership epoch %d: every enabled host votes" % m.epoch
    return "membership epoch %d: excluded as dead: %s" % (
        m.epoch, ", ".join(sorted(names.get(u, u) for u in m.excluded)))


def waiting_text(vote_: Vote, witness_configured: bool, witness_held: Optional[bool],
                 has_quorum: bool) -> Tuple[str, ...]:
    """Why this host does not act now, in the words `ha-cfg get-vm-ha` shows ('' parts dropped)."""
    lines = []
    if not vote_.member:
        lines.append("waiting for re-admission: " + vote_.why)
    if witness_configured and not witness_held and not has_quorum:
        lines.append("waiting for the witness: this side does not hold its vote and has no majority without it")
    return tuple(lines)
