"""Whether the peers this slave reaches agree that the master is gone (issue 13 finding 4).

Why: partitions need not be transitive. With only the master-Y link cut, Y
loses the master but still reaches S (2 of 3 votes) and could prove the
master dead by the timed wait and take over while the master lives. Y cannot
read S's view through XAPI (only the master serves the database), so it asks
S directly (halizard.peers): how long ago did your master_watch last read the
master? A slave takes nothing over (no fence of the master, no proof of death,
no emergency transition) while a peer it reaches read the master after this
host lost it, names another master, is a master itself, or does not answer
(unknown is not dead). In a real death every slave lost the master at the
same moment, so the answers agree and the takeover goes on; with no peer to
ask (a 2-host pool) nothing changes.

"After this host lost it": the peer's age of its last good read is compared
with how long this host has been failing to reach the master, less one try
(XE_TIMEOUT): this host's failure streak starts at the *start* of its first
failed try, which may have begun up to one try before the master died, while
a peer's read counts from its start, which was before the death. So in a
real death `window - age` stays below one try; while the master lives, a
peer that reaches it reads it every MONITOR_DELAY, so its age stays small
while this host's window grows. And "recently": a peer that has not read
the master for the self-fence wait W (timing.recovery_wait) has lost it,
by the same standard of evidence the pool's timed proof of death uses,
whatever this host's window says. Without that bound, a try of this host
that failed for a moment (a slow answer) just before a real death would
date its window before the peer's last read, and the hold would last for
ever (both ages grow alike); with it, it lasts at most W.
Clocks: each side measures its own interval on its own boot clock; no instant
crosses hosts.
"""
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from halizard.core import timing
from halizard.core.policy import Policy
from halizard.core.roles import Permission, _bare


@dataclass(frozen=True)
class PeerAnswer:
    """One peer's answer to the query.

    is_master: the peer says it is the pool master; master: the master address its pool.conf names
    (empty for a master); master_age: seconds since its master_watch last read that master
    successfully (on its own boot clock), None when it never did in this boot; votes: whether its
    membership copy gives it a vote now (False: excluded, or older than its last reboot: it cannot
    take over, roles.takeover_candidate skips it).
    """

    host_uuid: str
    is_master: bool
    master: str
    master_age: Optional[float]
    votes: bool = True


def margin(policy: Policy) -> float:
    """Seconds a peer's last read may precede this host's failure start in a real death: one try."""
    return float(policy.XE_TIMEOUT)


def stale_after(policy: Policy) -> float:
    """Seconds after which a peer's last good read no longer shows the master alive: the self-fence
    wait W, the time without an answer after which the pool itself counts a host dead."""
    return timing.recovery_wait(policy)


def master_gone_for_all(old_master_address: str, failing_for: Optional[float], asked: Sequence[str],
                        answers: Mapping[str, Optional[PeerAnswer]], policy: Policy) -> Permission:
    """May this slave count the master dead? Only when every peer asked agrees it is gone.

    failing_for: seconds this host has been failing to reach the master (its failure streak),
    None when it has none; asked: the peers (not the old master) this round reached and that
    were asked; answers: peer uuid -> its answer, None when it gave no valid answer.
    """
    peers = sorted(set(asked))
    if not peers:
        return Permission(True, "no peer to ask (none reached besides the master)")
    if failing_for is None:
        return Permission(False, "this host has no failure streak of the master to compare the peers with")
    old = _bare(old_master_address)
    window = failing_for - margin(policy)
    for uuid in peers:
        answer = answers.get(uuid)
        if answer is None:
            return Permission(False, "peer %s did not answer the query (unknown is not dead)" % uuid)
        if answer.is_master:
            return Permission(False, "peer %s answers that it is the pool master" % uuid)
        if _bare(answer.master) != old:
            return Permission(False, "peer %s follows another master at %s" % (uuid, answer.master))
        if answer.master_age is not None and answer.master_age < min(window, stale_after(policy)):
            return Permission(False, "peer %s read the master %.1f s ago, after this host lost it (%.1f s ago)"
                              % (uuid, answer.master_age, failing_for))
    return Permission(True, "every peer reached (%s) lost the master too" % ", ".join(peers))
