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
