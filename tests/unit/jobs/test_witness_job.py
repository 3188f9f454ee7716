"""jobs/witness.held: the recorded lease counts only while both of its deadlines are ahead."""
import time

from halizard.core import witness as rule
from halizard.core.policy import Policy
from halizard.jobs import witness
from halizard.statefiles import StateStore

POLICY = Policy(WITNESS_ADDRESS="127.0.0.1:5405")


def _store(tmp_path, **fields):
    store = StateStore(directory=str(tmp_path))
    record = {"address": "127.0.0.1:5405", "held_until": time.monotonic() + 3, "held_until_wall": time.time() + 3}
    record.update(fields)
    store.write(witness.STATE, record)
    return store


def test_no_witness_is_none_and_a_fresh_lease_is_held(tmp_path):
    store = _store(tmp_path)
    assert witness.held(store, Policy()) is None
    assert witness.held(store, POLICY) is True


def test_expired_missing_or_foreign_leases_are_not_held(tmp_path):
    assert witness.held(StateStore(directory=str(tmp_path / "empty")), POLICY) is False
    assert witness.held(_store(tmp_path, held_until=time.monotonic() - 1), POLICY) is False
    # a lease recorded before a reboot: its monotonic deadline may look ahead, its wall-clock one is past
    assert witness.held(_store(tmp_path, held_until_wall=time.time() - 100), POLICY) is False
    assert witness.held(_store(tmp_path, address="127.0.0.2:5405"), POLICY) is False
    assert witness.held(_store(tmp_path, held_until=None), POLICY) is False


class _Clock:
    def __init__(self, now):
        self.now = now

    def monotonic(self):
        return self.now


def test_a_side_that_lost_quorum_waits_for_a_lease_nobody_renews_and_not_for_a_renewed_one(tmp_path):
    """Issue 14: the holder died (its lease frees at 105 and does not move); the other side would
    self-fence before the vote frees and lose every VM of the side that is about to win."""
    from halizard.probes.witness import Vote

    store = StateStore(directory=str(tmp_path))
    refused = Vote(None, "h1", "the vote is leased to h1", True, free_in=5.0)
    first = witness._refusal({}, refused, 100.0, 3.0)
    assert first == {"free_at": 105.0, "renewed_at": 100.0}  # a holder seen for the first time
    same = witness._refusal(dict(first, holder="h1"), Vote(None, "h1", "", True, free_in=4.0), 101.0, 3.0)
    assert same == {"free_at": 105.0, "renewed_at": 100.0}   # not renewed: the vote still frees at 105
    store.write(witness.STATE, dict(same, address=POLICY.WITNESS_ADDRESS, answered=True, holder="h1"))
    # quorum lost at 100.5, the self-fence would begin at 102: it waits, at most vote_wait (WITNESS_LEASE=4)
    cap = 102.0 + rule.vote_wait(POLICY.WITNESS_LEASE)
    assert witness.waits_for_vote(store, POLICY, 100.5, 102.0, clock=_Clock(cap - 0.01))
    assert not witness.waits_for_vote(store, POLICY, 100.5, 102.0, clock=_Clock(cap))
    assert not witness.waits_for_vote(store, POLICY, 100.5, None, clock=_Clock(101.0))  # not confirmed yet: no need
    assert not witness.waits_for_vote(store, Policy(), 100.5, 102.0, clock=_Clock(104.0))  # no witness
    # the holder renews after the loss: it reaches the witness, its side wins, this one self-fences now
    moved = witness._refusal(dict(same, holder="h1"), Vote(None, "h1", "", True, free_in=5.0), 102.0, 3.0)
    assert moved == {"free_at": 107.0, "renewed_at": 102.0}
    store.write(witness.STATE, dict(moved, address=POLICY.WITNESS_ADDRESS, answered=True, holder="h1"))
    assert not witness.waits_for_vote(store, POLICY, 100.5, 102.0, clock=_Clock(103.0))
    # a renewal seen within one request (WITNESS_LEASE/3) of the loss may have come just before it
    assert witness.waits_for_vote(store, POLICY, 101.0, 102.0, clock=_Clock(103.0))
    # held, or no answer: nothing to wait for
    assert witness._refusal(same, Vote(110.0, "h2", "", True), 103.0, 3.0) == {"free_at": None, "renewed_at": None}
    assert witness._refusal(same, Vote(None, "", "no answer in time"), 103.0, 3.0)["free_at"] is None
