"""The witness: who gets its one vote (the lease rule) and what that vote counts for.

Why: a 2-host pool split in two is an exact tie that ping heuristics can
break for both halves at once, so it can never prove the peer dead. A third
machine that gives one vote to at most one side at a time makes one half a
strict majority (2 of 3). The witness hands the vote out as a lease the
holder renews; another host gets it only after the lease has expired plus a
margin (corosync-qnetd's ffsplit gives its vote to one partition the same
way). Times here are monotonic seconds of the witness's own clock; the
holder counts its lease from before it sent the request, so it always
believes less than the witness granted.

A restarted witness does not know when its last grant ends: for
`max_lease + margin` after it started it grants only to the holder it
recorded (if any), so it never hands the vote to the other side inside a
lease it granted before the restart.
"""


from dataclasses import dataclass, replace
from typing import List, Optional, Tuple

# The witness's margin (`ha-lizard witness --margin`, its default) and the most of it a host waiting
# for the vote pays for (vote_wait): a witness run with a longer margin frees the vote after that wait
# has ended, and the side about to win self-fences first. That costs availability, never safety.
MARGIN = 2.0


@dataclass(frozen=True)
class Grant:
    """The witness's vote for one pool: held by `holder` until `expires` (monotonic)."""

    holder: str = ""
    expires: float = 0.0
    lease: float = 0.0


@dataclass(frozen=True)
class Answer:
    """The witness's answer to one lease request."""

    granted: bool
    holder: str
    lease: float        # seconds granted (0 when refused)
    wait: float         # refused: seconds until another host may get it
    why: str


def decide(grant: Grant, host: str, lease: float, now: float, margin: float,
           hold_until: float = 0.0, recorded_holder: str = "") -> "tuple":
    """(new Grant, Answer) for `host` asking for `lease` seconds at `now`.

    The holder renews at any time; anyone gets a free vote; a held vote
    frees up only `margin` seconds after it expired. Before `hold_until`
    (a restarted witness) only `recorded_holder` may get it.
    """
    if host == grant.holder and now <= grant.expires:
        new = replace(grant, expires=now + lease, lease=lease)
        return new, Answer(True, host, lease, 0.0, "lease renewed")
    if now < hold_until and host != recorded_holder:
        return grant, Answer(False, recorded_holder or grant.holder, 0.0, hold_until - now,
                             "the witness restarted and waits out any lease it granted before")
    free_at = grant.expires + margin if grant.holder else 0.0
    if grant.holder and grant.holder != host and now < free_at:
        return grant, Answer(False, grant.holder, 0.0, free_at - now,
                             "the vote is leased to %s" % grant.holder)
    new = Grant(host, now + lease, lease)
    return new, Answer(True, host, lease, 0.0, "lease granted")


def holds(held_until: Optional[float], now: float) -> bool:
    """Whether the host's own lease (its deadline, None when it holds none) is still good at `now`."""
    return held_until is not None and now < held_until


def votes(configured: bool, held: bool) -> "tuple":
    """(votes added to this side, votes added to the total) by the witness."""
    if not configured:
        return 0, 0
    return (1 if held else 0), 1


def renewed(previous_free_at: Optional[float], free_at: float, lease: float) -> bool:
    """Whether a refusal shows the holder's lease moved on since the previous refusal (it renewed):
    the vote frees later by more than half a renewal period (more than the requests' jitter)."""
    return previous_free_at is not None and free_at > previous_free_at + renew_every(lease) / 2.0


def worth_waiting(lost_at: Optional[float], confirm_at: Optional[float], renewed_at: Optional[float],
                  free_at: Optional[float], now: float, lease: float) -> bool:
    """Whether a host that lost quorum, and would hold it with the witness's vote, waits for that vote
    instead of self-fencing now.

    Why: when the holder dies, the other side has no quorum until the holder's lease frees, and
    without this it self-fences first (stopping every VM of the side that is about to win). It
    waits only while the witness shows the holder's lease not renewed since the loss (a holder
    that renews still reaches the witness: its side wins, and this one self-fences at its next
    request but one) and for at most `vote_wait(lease)` after its self-fence would have begun
    (`confirm_at`): long enough for a lease renewed just before the loss to free and be asked for
    (the holder died no later than the loss was confirmed); the timing rule pays for that delay.
    """
    if lost_at is None or confirm_at is None or free_at is None:
        return False
    if renewed_at is not None and renewed_at >= lost_at + renew_every(lease):
        return False  # (a renewal seen within one request of the loss may have come just before it)
    return now < confirm_at + vote_wait(lease)


def loss_anchors(lost_at: Optional[float], confirm_at: Optional[float], lost: bool, threatened: bool,
                 confirmed: bool, now: float) -> Tuple[Optional[float], Optional[float]]:
    """(lost_at, confirm_at) for worth_waiting, from the stored ones and this check.

    The loss counts from the first check at which it threatens a self-fence (the hosts out of reach
    could hold quorum), not from an earlier stretch without quorum that threatened nothing. Why: a
    3-host pool with a witness whose slave died has the last slave at 2 of 4 votes (no quorum, and
    nobody else could win) until the master's exclusion of the dead slave is acknowledged; when the
    master died just after, the loss dated from the slave's death, the master had renewed its lease
    since, and the last host self-fenced at once instead of waiting for the dead master's vote.
    Once set, both stay until quorum is back: a threat that comes and goes never stretches the wait.
    """
    if not lost:
        return None, None
    if lost_at is None:
        if not threatened:
            return None, None
        lost_at = now
    if confirm_at is None and confirmed:
        confirm_at = now
    return lost_at, confirm_at


def vote_wait(lease: float) -> float:
    """Longest wait for the vote after a confirmed quorum loss: the holder's lease (renewed at most
    at the loss), the witness's MARGIN after it, then one request period before this host asks
    again and that request's deadline (renew_every each)."""
    return lease + MARGIN + 2.0 * renew_every(lease)


def renew_every(lease: float) -> float:
    """Seconds between two renewals by the holder (and the deadline of each request)."""
    return lease / 3.0


def lease_errors(policy, minimum_wait: float, recovery_wait: float, delay: float) -> List[str]:
    """Why these lease settings are unsafe (timing.check adds them to its errors).

    A host cut off from the pool may start to self-fence `delay` (timing.witness_delay) later than
    without a witness: the holder keeps its quorum until its lease runs out, and a host waiting for
    a lease nobody renews (worth_waiting) waits up to vote_wait after its self-fence would have
    begun. The other side may restart its VMs only after the self-fence wait, so that wait must
    exceed the self-fence deadline plus one probe (minimum_wait) plus that delay.
    """
    if not policy.witness_configured:
        return []
    if recovery_wait <= minimum_wait + delay:
        return ["WITNESS_LEASE=%g: the self-fence wait of %gs is not longer than the self-fence deadline "
                "plus one probe (%gs) plus the wait for the witness's vote (%gs: the lease, the witness's "
                "margin %gs, two requests and one self-fence check): a host cut off from the pool may "
                "still run its VMs when the other side restarts them; set SELF_FENCE_WAIT above %g "
                "or to 0 (automatic)"
                % (policy.WITNESS_LEASE, recovery_wait, minimum_wait, delay, MARGIN, minimum_wait + delay)]
    return []
