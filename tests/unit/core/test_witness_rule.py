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

    for lease in (2.0, 4.0, 5.0, 30.0, 60.0):  # the automatic wait pays for any lease
        assert timing.check(Policy(WITNESS_ADDRESS="127.0.0.1:5405", WITNESS_LEASE=lease)).safe
    assert timing.check(Policy(WITNESS_ADDRESS="", WITNESS_LEASE=30.0)).safe  # no witness: no rule
    base = Policy(WITNESS_ADDRESS="127.0.0.1:5405", WITNESS_LEASE=30.0)
    enough = timing.minimum_wait(base) + timing.witness_delay(base)
    assert timing.check(Policy(WITNESS_ADDRESS="127.0.0.1:5405", WITNESS_LEASE=30.0, SELF_FENCE_WAIT=enough + 1)).safe
    unsafe = timing.check(Policy(WITNESS_ADDRESS="127.0.0.1:5405", WITNESS_LEASE=30.0, SELF_FENCE_WAIT=enough))
    assert not unsafe.safe and "WITNESS_LEASE=30" in unsafe.errors[0], unsafe.errors


def test_a_side_whose_loss_was_confirmed_at_once_waits_until_the_dead_holder_s_vote_is_its_own():
    """Issue 14, the POOL cascade with a witness: the holder renewed at 100 (lease 3, margin 2: the
    vote frees at 105) and died; a dead host refuses connections at once, so the last host lost quorum
    at 100.2 and confirmed it at 101. It asks every second (deadline one second): it holds the vote by
    107 at the latest, and must not self-fence before (the cap was confirm_at + lease = 104)."""
    lease, renewed, lost_at, confirm_at = 3.0, 100.0, 100.2, 101.0
    free_at = renewed + lease + rule.MARGIN
    held_by = free_at + 2 * rule.renew_every(lease)
    for now in (101.0, 104.0, free_at, held_by - 0.01):
        assert rule.worth_waiting(lost_at, confirm_at, renewed, free_at, now, lease), now
    assert not rule.worth_waiting(lost_at, confirm_at, renewed, free_at, confirm_at + rule.vote_wait(lease), lease)


def test_the_timing_rule_pays_for_the_longest_wait_for_the_vote():
    """The other side of that wait: a host that waits for the vote and does not get it self-fences at
    the first check after confirm_at + vote_wait. With its loss confirmed as late as the budget allows
    (isolation_detect after the cut), the first failed probe of it up to XE_TIMEOUT before the cut and
    its self-fence then taking the rest of the deadline, it is done before the other side's wait W."""
    from halizard.core import timing
    from halizard.core.policy import Policy

    for lease in (2.0, 3.0, 4.0, 10.0, 60.0):
        for extra in ({}, {"XE_TIMEOUT": 2, "SELF_FENCE_STOP_TIMEOUT": 3, "SELF_FENCE_WATCHDOG": 10},
                      {"FENCE_HEURISTICS_IPS": "127.0.0.1,127.0.0.2", "SELF_FENCE_CHECK_INTERVAL": 3}):
            p = Policy.from_mapping(dict(extra, WITNESS_ADDRESS="127.0.0.1:5405", WITNESS_LEASE=lease))
            confirm_at = timing.isolation_detect(p)  # seconds after the cut
            last_waiting_check = confirm_at + rule.vote_wait(lease)
            begins = last_waiting_check + timing.beat_window(p)  # the next check has surely ended
            done = begins + (timing.self_fence_deadline(p) - timing.isolation_detect(p))
            assert done + p.XE_TIMEOUT < timing.recovery_wait(p), (lease, extra)
            fixed = Policy.from_mapping(dict(extra, WITNESS_ADDRESS="127.0.0.1:5405", WITNESS_LEASE=lease,
                                             SELF_FENCE_WAIT=done + p.XE_TIMEOUT))
            assert not timing.check(fixed).safe, (lease, extra)


def test_the_wait_for_the_vote_counts_from_the_first_threatening_check_and_never_moves_after():
    anchors = rule.loss_anchors
    assert anchors(None, None, False, True, True, 10.0) == (None, None)       # quorum held
    assert anchors(None, None, True, False, True, 10.0) == (None, None)       # lost, nobody else could win
    assert anchors(None, None, True, True, False, 11.0) == (11.0, None)       # the threat begins
    assert anchors(11.0, None, True, True, True, 12.0) == (11.0, 12.0)        # confirmed
    assert anchors(11.0, 12.0, True, False, True, 13.0) == (11.0, 12.0)       # a threat that goes ...
    assert anchors(11.0, 12.0, True, True, True, 14.0) == (11.0, 12.0)        # ... and comes back
    assert anchors(11.0, 12.0, False, False, False, 15.0) == (None, None)     # quorum back: a new loss later
    assert anchors(None, None, True, True, True, 16.0) == (16.0, 16.0)        # confirmed at its first threat
