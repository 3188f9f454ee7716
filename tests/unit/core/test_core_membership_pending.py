"""A master lost while a membership change is pending (issue 14): the survivors recover when the
change is a single re-admission, and the rules that keep that safe.

3 hosts; h3 was excluded as dead and came back; the master h1 re-admitted it (epoch 2, pending
until every voter acknowledges) and lost power before anyone acknowledged: the only host that
could end the joint rule is dead."""
import itertools

from core_builders import down, host, policy, pool
from halizard.core import membership as rule
from halizard.core import quorum, roles
from halizard.core import takeover as T

ALL = ["h1", "h2", "h3"]
EXCLUDED = rule.commit(rule.exclude(rule.Membership(), ["h3"]))   # epoch 1: h3 excluded, acknowledged
PENDING = rule.readmit(EXCLUDED, ["h3"])                          # epoch 2: h3 re-admitted, pending


def quorum_of(me, m, reachable, pol, enabled=ALL):
    """What jobs.membership.quorum computes from a fresh copy `m`."""
    v = rule.vote(me, enabled, m, fresh=True)
    results = [quorum.compute(me, voters, reachable, None, pol, vote=v)
               for voters in ((v.voters,) if v.joint_voters is None else (v.voters, v.joint_voters))]
    return quorum.weakest(results)


def test_a_pending_single_readmission_counts_the_new_voters_alone():
    assert PENDING.joint == {"h3"} and not PENDING.excluded and rule.single_readmission(PENDING)
    for method in ("POOL", "XVM"):
        q = quorum_of("h2", PENDING, ["h3"], policy(FENCE_METHOD=method))
        # 2 of the 3 voters: a strict majority, so the timed wait can prove the master dead (POOL);
        # under the joint rule it was 1 of the old 2, a tie nothing settles with POOL fencing
        assert q.strict_majority and (q.votes, q.total) == (2, 3), (method, q.why)
        assert rule.vote("h3", ALL, PENDING, fresh=True).member  # the returned host votes once it read it


def test_the_takeover_slave_goes_on_after_a_master_lost_during_the_readmission():
    pol = policy(FENCE_METHOD="POOL")
    hosts = [host("h1", is_master=True, health_field="master"), host("h2"), host("h3")]
    inp = T.TakeoverInputs(self_uuid="h2", pool=pool(hosts), master_probe=down(at=0.0),
                           quorum=quorum_of("h2", PENDING, ["h3"], pol), autopromote="h2",
                           reachable=frozenset({"h3"}), ranked_last=rule.takeover_order(PENDING))
    s = T.step(T.TakeoverState(), inp, pol, 0.0)
    assert s.state.phase == T.AWAIT_DEADLINE, s.why  # the timed wait runs; it ends in the transition
    s = T.step(s.state, inp, pol, 10_000.0)
    assert s.state.phase == T.TRANSITION, s.why


def test_a_returned_host_ranks_after_the_others_as_takeover_slave_in_every_copy():
    """'a3' sorts first by uuid but came back from the dead: the never-excluded 'b2' is the takeover
    slave, whichever copy (excluded, re-admission pending, acknowledged) each host holds."""
    hosts = [host("m1", is_master=True), host("a3"), host("b2")]
    view = pool(hosts, master="m1")
    out = rule.commit(rule.exclude(rule.Membership(), ["a3"]))
    copies = [out, rule.readmit(out, ["a3"]), rule.commit(rule.readmit(out, ["a3"]))]
    for me in ("a3", "b2"):
        for m in copies:
            assert roles.takeover_candidate(view, me, {"a3", "b2"}, rule.takeover_order(m)) == "b2", (me, m)
    assert roles.takeover_candidate(view, "b2", {"a3", "b2"}) == "a3"  # by uuid alone it would be a3
    # a later re-admission ranks after an earlier one; excluded hosts come last
    m = rule.commit(rule.readmit(rule.commit(rule.exclude(copies[2], ["b2"])), ["b2"]))
    assert m.readmitted == ("a3", "b2") and rule.takeover_order(m) == ("a3", "b2")
    assert rule.takeover_order(rule.exclude(m, ["a3"])) == ("b2", "a3")
    assert rule.parse(rule.format_text(m)) == m


def test_one_readmission_at_a_time_and_none_while_a_change_is_pending():
    two_out = rule.commit(rule.exclude(rule.Membership(), ["h2", "h3"]))
    assert rule.to_readmit(two_out, healthy={"h2", "h3"}, enabled=set(ALL)) == {"h2"}
    m = rule.readmit(two_out, ["h2", "h3"])
    assert m.excluded == {"h3"} and rule.single_readmission(m)
    assert rule.readmit(m, ["h3"]) is m and rule.to_readmit(m, {"h3"}, set(ALL)) == frozenset()
    # an exclusion pending is no re-admission: the joint rule stays (a majority of both)
    assert not rule.single_readmission(rule.exclude(rule.Membership(), ["h3"]))
    assert rule.vote("h1", ALL, rule.exclude(rule.Membership(), ["h3"]), True).joint_voters == set(ALL)


def test_a_change_on_top_of_a_pending_readmission_is_joint_with_it():
    """The new master excludes the old one while h3's re-admission is still pending: quorum needs a
    majority of the 2 voters left and of the 3 voters of the re-admission, not of the old {h1, h2}
    (1 of 2 for ever: the dead master never acknowledges)."""
    after = rule.exclude(PENDING, ["h1"])
    assert after.excluded == {"h1"} and after.joint == frozenset() and not rule.single_readmission(after)
    q = quorum_of("h2", after, ["h3"], policy(FENCE_METHOD="POOL"))
    assert q.strict_majority, q.why


def _majorities(voters):
    voters = sorted(voters)
    return [set(c) for n in range(len(voters) // 2 + 1, len(voters) + 1) for c in itertools.combinations(voters, n)]


def test_why_it_is_safe_every_majority_of_the_old_and_of_the_old_plus_one_meet():
    """The relaxed rule relies on this (Raft's single-server change): a copy that still counts the
    old voters and one that counts the old voters plus the returned host cannot both hold a strict
    majority on two sides of a split. With two hosts added at once they can (so: one at a time)."""
    for n in range(1, 7):
        old = ["o%d" % i for i in range(n)]
        for a in _majorities(old):
            assert all(a & b for b in _majorities(old + ["new"])), n
    assert not all(a & b for a in _majorities(["o0"]) for b in _majorities(["o0", "n1", "n2"]))


def test_the_master_names_the_same_takeover_slave_as_the_slaves_compute():
    hosts = [host("m1", is_master=True), host("a3"), host("b2")]
    view = pool(hosts, master="m1")
    order = rule.takeover_order(rule.readmit(rule.commit(rule.exclude(rule.Membership(), ["a3"])), ["a3"]))
    choice = roles.choose_takeover(view, {"a3": "healthy", "b2": "healthy"}, ranked_last=order)
    assert choice.value == "b2" == roles.takeover_candidate(view, "a3", {"b2"}, order)
    assert roles.choose_takeover(view, {"a3": "healthy", "b2": "healthy"}).value == "a3"


def test_a_peer_without_a_vote_is_never_the_takeover_slave():
    """The master excluded 'a3' (power-off), a3 came back, and the master died before 'b2' read the
    exclusion: b2's copy (epoch 0) ranks a3 first by uuid, while a3's own copy is older than its
    reboot, so a3 has no vote and never acts: the pool waited for ever (seen in `make demo`). A peer
    says in its peer query answer whether it votes; one that does not is skipped."""
    hosts = [host("m1", is_master=True, health_field="master"), host("a3"), host("b2")]
    view = pool(hosts, master="m1")
    assert not rule.vote("a3", ["m1", "a3", "b2"], rule.Membership(), fresh=False).member
    assert roles.takeover_candidate(view, "b2", {"a3", "b2"}) == "a3"
    assert roles.takeover_candidate(view, "b2", {"a3", "b2"}, voteless={"a3"}) == "b2"
    pol = policy(FENCE_METHOD="XVM")
    inp = T.TakeoverInputs(self_uuid="b2", pool=view, master_probe=down(at=0.0),
                           quorum=quorum_of("b2", None, ["a3"], pol, enabled=["m1", "a3", "b2"]),
                           autopromote="a3", reachable=frozenset({"a3"}), voteless=frozenset({"a3"}))
    s = T.step(T.TakeoverState(), inp, pol, 0.0)
    assert s.state.phase != T.IDLE, s.why  # b2 acts: it fences the master first
