"""Quorum: may this side of the pool act for the whole pool?

Votes are the enabled hosts this host reaches, itself included. Quorum is a
strict majority of the enabled hosts. The IP-heuristic vote (every address in
FENCE_HEURISTICS_IPS answered) only breaks an exact tie: a 2-host pool can
still act, and no side of a 3-host 1|2 split wins with it alone (the old
product added it as a full vote, so the lone host of such a split believed
it had 2 of 3 votes).

A quorum won through the tie-break is weaker: the other half may have won it
too (both reached the heuristic addresses), so it never proves a peer dead by
the self-fence deadline (fencing.py) and the non-master half delays its fence.

A witness (core/witness.py) is one more vote that at most one side holds at
a time: a 2-host pool with a witness has 3 votes, and the side holding the
witness's lease has a strict majority.

Last man standing (core/membership.py): the enabled hosts passed in are the
voters of the current membership (the proven-dead hosts left the count), and
a host without a vote (excluded, or its membership copy is stale) has no
quorum at all.

The fence race: with a fence agent that verifies a power-off and no
heuristic addresses (with them, the tie-break above decides and a half that
fails them is the isolated one), an exact tie is not a dead end. Both halves hold a weak quorum (like the heuristic
tie-break, it never proves death by the deadline): the master's half
fences at once, the other half waits tie_fence_delay first, and the half
that is fenced off loses. Neither half stops its VMs while a fence can
decide (Pacemaker's two-node mode works the same way).
"""


from dataclasses import dataclass
from typing import Iterable, Optional

from halizard.core import witness
from halizard.core.membership import Vote
from halizard.core.policy import Policy


@dataclass(frozen=True)
class QuorumResult:
    """The vote count and what it allows."""

    votes: int
    total: int
    has_quorum: bool
    by_tiebreak: bool
    other_side_could_win: bool
    why: str

    @property
    def strict_majority(self) -> bool:
        return self.has_quorum and not self.by_tiebreak


def compute(
    self_uuid: str,
    enabled_hosts: Iterable[str],
    reachable: Iterable[str],
    heuristics_ok: Optional[bool],
    policy: Policy,
    witness_held: Optional[bool] = None,
    vote: Optional[Vote] = None,
) -> QuorumResult:
    """Quorum of the side containing self_uuid.

    enabled_hosts: uuids of all enabled hosts of the pool; reachable: uuids
    this host reached by network in this round (self is always counted);
    heuristics_ok: True when every heuristic address answered, None when not
    probed; witness_held: whether this host holds the witness's lease (None: no witness);
    vote: this host's membership.vote (None: no membership, it votes); without a vote
    (vote.member False) it has no quorum.
    """
    enabled = set(enabled_hosts)
    if vote is not None and not vote.member:
        total = len(enabled - {self_uuid})
        return QuorumResult(0, total, False, False, False, vote.why or "this host has no vote")
    if self_uuid not in enabled:
        # A disabled host (maintenance) still counts itself: it must know whether it is isolated.
        enabled.add(self_uuid)
    extra, extra_total = witness.votes(witness_held is not None, bool(witness_held))
    votes = len((set(reachable) & enabled) | {self_uuid}) + extra
    total = len(enabled) + extra_total
    unreached = total - votes
    heuristic_vote = bool(heuristics_ok) and policy.heuristics_configured
    if votes * 2 > total:
        return QuorumResult(votes, total, True, False, False,
                            "%d of %d %s is a strict majority" % (votes, total, _what(extra_total, extra)))
    tie = votes * 2 == total
    # The unreached side could hold quorum by majority, or by tie-break if a heuristic vote exists.
    other_could = unreached * 2 > total or (tie and policy.heuristics_configured)
    if tie and heuristic_vote:
        return QuorumResult(votes, total, True, True, other_could,
                            "%d of %d enabled hosts is an exact tie, broken by the heuristic addresses"
                            % (votes, total))
    if tie and policy.fences_by_agent and not policy.heuristics_configured:
        return QuorumResult(votes, total, True, True, True,
                            "%d of %d votes is an exact tie, settled by a fence race (FENCE_METHOD=%s)"
                            % (votes, total, policy.FENCE_METHOD))
    if tie:
        reason = ("an exact tie and the heuristic addresses did not all answer"
                  if policy.heuristics_configured else "an exact tie and no heuristic addresses are configured")
        return QuorumResult(votes, total, False, False, other_could,
                            "%d of %d enabled hosts is %s" % (votes, total, reason))
    return QuorumResult(votes, total, False, False, other_could,
                        "%d of %d %s is no majority" % (votes, total, _what(extra_total, extra)))


def weakest(results: "list") -> QuorumResult:
    """The result that allows least: no quorum before a tie-break quorum before a strict majority."""
    return min(results, key=lambda q: (q.has_quorum, q.strict_majority))


def _what(witness_total, witness_votes):
    if not witness_total:
        return "enabled hosts reachable"
    return "votes (reachable hosts, %s)" % ("and the witness" if witness_votes else "without the witness")
