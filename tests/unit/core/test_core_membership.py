"""Last man standing (halizard.core.membership) and quorum among the voters (core.quorum)."""
import pytest

from halizard.core import membership as rule
from halizard.core import quorum
from halizard.core.policy import Policy

ALL = ["h1", "h2", "h3"]


def test_parse_and_format_round_trip_and_empty_is_epoch_zero():
    assert rule.parse("") == rule.parse(None) == rule.Membership()
    m = rule.Membership(3, frozenset({"h3", "h1"}))
    assert rule.format_text(m) == "3 h1,h3"
    assert rule.parse(rule.format_text(m)) == m
    assert rule.parse("2") == rule.parse("2 -") == rule.Membership(2)
    pending = rule.Membership(4, frozenset({"h1"}), frozenset())
    assert rule.format_text(pending) == "4 h1 joint -" and rule.parse("4 h1 joint -") == pending
    for bad in ("x h1", "2 h1 later h2", "1 a b c d"):
        with pytest.raises(rule.MembershipError):
            rule.parse(bad)


def test_each_exclusion_and_readmission_is_one_epoch_and_repeats_change_nothing():
    m = rule.exclude(rule.Membership(), ["h3"])
    assert m == rule.Membership(1, frozenset({"h3"}), joint=frozenset())
    assert rule.exclude(m, ["h3"]) is m
    m = rule.exclude(m, ["h1", "h3"])
    # a second change before the first was acknowledged keeps the last acknowledged one as the joint
    assert m == rule.Membership(2, frozenset({"h1", "h3"}), joint=frozenset())
    m = rule.commit(m)
    m = rule.readmit(m, ["h3", "h2"])
    assert m == rule.Membership(3, frozenset({"h1"}), joint=frozenset({"h1", "h3"}), readmitted=("h3",))
    assert rule.readmit(m, ["h2"]) is m


def test_a_change_is_joint_until_every_voter_acknowledged_it():
    m = rule.exclude(rule.Membership(), ["h3"])
    assert not rule.acknowledged(m, {"h1", "h2"}, {"h1": 1, "h2": 0, "h3": 0})
    assert rule.acknowledged(m, {"h1", "h2"}, {"h1": 1, "h2": 1})
    v = rule.vote("h1", ALL, m, fresh=True)
    assert v.voters == {"h1", "h2"} and v.joint_voters == set(ALL)
    assert rule.vote("h1", ALL, rule.commit(m), fresh=True).joint_voters is None


def test_joint_rule_stops_a_lagging_copy_from_forming_a_second_majority():
    """5 hosts; h4 and h5 excluded; h2's copy still lags (all 5 vote) when the pool splits
    {h1, h3} | {h2, h4, h5}: h2 has 3 of the old 5, so h1 must not count 2 of the new 3 alone."""
    hosts = ["h1", "h2", "h3", "h4", "h5"]
    pol = Policy()
    m = rule.exclude(rule.Membership(), ["h4", "h5"])
    lagging = quorum.compute("h2", hosts, ["h4", "h5"], None, pol)
    assert lagging.strict_majority
    v = rule.vote("h1", hosts, m, fresh=True)
    alone = [quorum.compute("h1", voters, ["h3"], None, pol) for voters in (v.voters, v.joint_voters)]
    assert alone[0].strict_majority and not alone[1].has_quorum
    assert not quorum.weakest(alone).has_quorum


def test_readmitted_only_when_enabled_and_healthy():
    m = rule.Membership(2, frozenset({"h1", "h3"}))
    assert rule.to_readmit(m, healthy={"h1", "h2"}, enabled={"h2", "h3"}) == frozenset()
    assert rule.to_readmit(m, healthy={"h1", "h3"}, enabled={"h1", "h2", "h3"}) == {"h1"}  # one at a time


def test_excluded_or_stale_hosts_have_no_vote():
    m = rule.Membership(1, frozenset({"h3"}))
    v = rule.vote("h2", ALL, m, fresh=True)
    assert v.member and v.voters == {"h1", "h2"}
    v = rule.vote("h3", ALL, m, fresh=True)
    assert not v.member and "re-admission" in v.why
    # a copy read before this host's last reboot counts for nothing, whatever its epoch
    for copy in (rule.Membership(), m):
        v = rule.vote("h1", ALL, copy, fresh=False)
        assert not v.member and "older than its last reboot" in v.why
    assert rule.vote("h1", ALL, None, fresh=False).member  # the pool never wrote one: everyone votes


def test_cascade_survives_down_to_the_last_host():
    pol = Policy(FENCE_METHOD="XVM")
    m = rule.commit(rule.exclude(rule.Membership(), ["h3"]))
    v = rule.vote("h2", ALL, m, fresh=True)
    # without the membership h2 alone is 1 of 3; with it 1 of 2, a tie the fence race settles
    assert not quorum.compute("h2", ALL, [], None, pol).has_quorum
    q = quorum.compute("h2", v.voters, [], None, pol)
    assert q.has_quorum and q.by_tiebreak and not q.strict_majority and "fence race" in q.why
    m = rule.commit(rule.exclude(m, ["h1"]))
    q = quorum.compute("h2", rule.vote("h2", ALL, m, True).voters, [], None, pol)
    assert q.strict_majority and (q.votes, q.total) == (1, 1)


def test_simultaneous_loss_of_a_majority_still_blocks():
    for method in ("POOL", "XVM"):
        q = quorum.compute("h2", ALL, [], None, Policy(FENCE_METHOD=method))
        assert not q.has_quorum, method


def test_tie_without_a_verified_fence_or_with_failed_heuristics_is_no_quorum():
    two = ["h1", "h2"]
    assert not quorum.compute("h2", two, [], None, Policy(FENCE_METHOD="POOL")).has_quorum
    assert not quorum.compute("h2", two, [], None, Policy(FENCE_METHOD="XVM", FENCE_ENABLED=False)).has_quorum
    pol = Policy(FENCE_METHOD="XVM", FENCE_HEURISTICS_IPS=("127.0.0.1",))
    assert not quorum.compute("h2", two, [], False, pol).has_quorum  # this half lost the heuristics: isolated
    assert quorum.compute("h2", two, [], True, pol).by_tiebreak


def test_a_host_without_a_vote_never_has_quorum_even_reaching_everyone():
    q = quorum.compute("h3", ["h1", "h2"], ["h1", "h2"], True, Policy(FENCE_METHOD="XVM"),
                       vote=rule.Vote(frozenset(["h1", "h2"]), False, "waits for re-admission"))
    assert not q.has_quorum and q.votes == 0 and not q.other_side_could_win and q.why == "waits for re-admission"


def test_stale_majority_of_returning_hosts_cannot_form():
    """5 hosts, 4 excluded one after another; the 4 return together cut off from the last one: each
    of them holds a stale copy (all 5 vote), so each has no vote and no quorum."""
    hosts = ["h1", "h2", "h3", "h4", "h5"]
    stale = rule.Membership()
    for h in ("h1", "h2", "h3", "h4"):
        v = rule.vote(h, hosts, stale, fresh=False)
        q = quorum.compute(h, v.voters, ["h1", "h2", "h3", "h4"], True, Policy(FENCE_METHOD="XVM"),
                           vote=v)
        assert not q.has_quorum


def test_waiting_texts():
    excluded = rule.vote("h3", ALL, rule.Membership(1, frozenset({"h3"})), True)
    lines = rule.waiting_text(excluded, witness_configured=True, witness_held=False, has_quorum=False)
    assert lines[0].startswith("waiting for re-admission") and lines[1].startswith("waiting for the witness")
    member = rule.vote("h1", ALL, None, True)
    assert rule.waiting_text(member, True, True, True) == ()
    assert rule.waiting_text(member, False, None, False) == ()
    assert rule.describe(rule.Membership(2, frozenset({"u3"})), {"u3": "host3"}).endswith("host3")
