"""The witness lease rule (halizard.core.witness): one holder at a time, margin, restart hold."""
from halizard.core import witness as rule


def test_free_vote_is_granted_and_the_holder_renews():
    grant, answer = rule.decide(rule.Grant(), "h1", 4.0, now=100.0, margin=2.0)
    assert answer.granted and grant.holder == "h1" and grant.expires == 104.0
    grant, answer = rule.decide(grant, "h1", 4.0, now=103.0, margin=2.0)
    assert answer.granted and grant.expires == 107.0


def test_other_host_waits_for_expiry_plus_margin():
    grant, _ = rule.decide(rule.Grant(), "h1", 4.0, now=100.0, margin=2.0)
    for now in (100.5, 104.0, 105.9):
        same, answer = rule.decide(grant, "h2", 4.0, now=now, margin=2.0)
        assert not answer.granted and answer.holder == "h1" and same == grant
        assert abs(answer.wait - (106.0 - now)) < 1e-9
    grant, answer = rule.decide(grant, "h2", 4.0, now=106.0, margin=2.0)
    assert answer.granted and grant.holder == "h2"


def test_expired_holder_cannot_renew_inside_the_margin_of_nobody_else():
    grant, _ = rule.decide(rule.Grant(), "h1", 4.0, now=100.0, margin=2.0)
    # h1 comes back after its lease ran out: it gets a fresh lease (no one else held it)
    grant, answer = rule.decide(grant, "h1", 4.0, now=105.0, margin=2.0)
    assert answer.granted and grant.expires == 109.0


def test_restarted_witness_grants_only_the_recorded_holder_until_the_hold_ends():
    hold = 10.0 + 60.0 + 2.0
    _, answer = rule.decide(rule.Grant(), "h2", 4.0, now=11.0, margin=2.0, hold_until=hold, recorded_holder="h1")
    assert not answer.granted and answer.holder == "h1"
    grant, answer = rule.decide(rule.Grant(), "h1", 4.0, now=11.0, margin=2.0, hold_until=hold,
                                recorded_holder="h1")
    assert answer.granted and grant.holder == "h1"
    _, answer = rule.decide(rule.Grant(), "h2", 4.0, now=hold, margin=2.0, hold_until=hold, recorded_holder="h1")
    assert answer.granted


def test_votes_and_holding():
    assert rule.votes(False, True) == (0, 0)
    assert rule.votes(True, True) == (1, 1)
    assert rule.votes(True, False) == (0, 1)
    assert rule.holds(10.0, 9.9) and not rule.holds(10.0, 10.0) and not rule.holds(None, 0.0)


def test_quorum_with_a_witness_two_hosts():
    from halizard.core import quorum
    from halizard.core.policy import Policy

    policy = Policy(WITNESS_ADDRESS="127.0.0.1:5405")
    held = quorum.compute("h1", ["h1", "h2"], [], None, policy, witness_held=True)
    assert (held.votes, held.total, held.strict_majority) == (2, 3, True)
    assert "and the witness" in held.why
    lost = quorum.compute("h2", ["h1", "h2"], [], None, policy, witness_held=False)
    assert (lost.votes, lost.total, lost.has_quorum, lost.other_side_could_win) == (1, 3, False, True)
    both = quorum.compute("h1", ["h1", "h2"], ["h2"], None, policy, witness_held=False)
    assert both.strict_majority  # witness down, both hosts up: nothing changes
    no_witness = quorum.compute("h1", ["h1", "h2"], [], None, policy)
    assert (no_witness.votes, no_witness.total) == (1, 2)


def test_timing_refuses_a_lease_the_self_fence_wait_does_not_cover():
    from halizard.core import timing
    from halizard.core.policy import Policy

    assert timing.check(Policy(WITNESS_ADDRESS="127.0.0.1:5405", WITNESS_LEASE=4.0)).safe
    unsafe = timing.check(Policy(WITNESS_ADDRESS="127.0.0.1:5405", WITNESS_LEASE=5.0))
    assert not unsafe.safe and "WITNESS_LEASE=5" in unsafe.errors[0]
    assert timing.check(Policy(WITNESS_ADDRESS="", WITNESS_LEASE=30.0)).safe  # no witness: no rule
    base = Policy()
    wait = timing.minimum_wait(base) + 31
    assert timing.check(Policy(WITNESS_ADDRESS="127.0.0.1:5405", WITNESS_LEASE=30.0, SELF_FENCE_WAIT=wait)).safe
