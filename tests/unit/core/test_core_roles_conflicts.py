"""core.roles: evidence of another master (issue 13 findings 2 and 3, issue 19 item 1).

Each test states one rule the pure decisions must keep; the ones marked "failed before" did on
the code before this change.
"""
from core_builders import host, pool
from halizard.core import roles


def _hosts(n=3, master=1, **health_fields):
    return [host("h%d" % i, address="127.9.0.%d" % i, is_master=(i == master),
                 health_field=health_fields.get("h%d" % i, "master" if i == master else "healthy"))
            for i in range(1, n + 1)]


# --- finding 2: a slave that names another master ----------------------------------------------

def test_a_slave_naming_a_third_address_is_evidence_of_another_master():
    """Failed before: ALONE, so the stale master cleared master-conflict and started VMs."""
    pv = pool(_hosts(4))
    got = roles.resolve_masters(pv, "h1", {"h2": ("slave", "127.9.0.3"), "h3": ("timeout", None),
                                           "h4": ("slave", "127.9.0.1")})
    assert got.action == roles.STAND_DOWN, got
    assert "127.9.0.3" in got.why and "h3" in got.why


def test_a_slave_naming_an_unknown_address_is_evidence_too():
    pv = pool(_hosts(3))
    got = roles.resolve_masters(pv, "h1", {"h2": ("slave", "127.9.9.9"), "h3": ("slave", "127.9.0.1")})
    assert got.action == roles.STAND_DOWN and "127.9.9.9" in got.why


def test_slaves_naming_this_host_leave_it_alone():
    pv = pool(_hosts(3))
    got = roles.resolve_masters(pv, "h1", {"h2": ("slave", "127.9.0.1"), "h3": ("slave", "127.9.0.1")})
    assert got.action == roles.ALONE


def test_a_slave_still_following_the_master_this_host_replaced_is_pulled_over():
    """The new master after its takeover: a slave recover_slaves missed still names the old master."""
    pv = pool(_hosts(3, master=2, h1="failed"), master="h2")
    got = roles.resolve_masters(pv, "h2", {"h1": ("timeout", None), "h3": ("slave", "127.9.0.1")}, replaced="h1")
    assert got.action == roles.RECOVER and got.others == () and got.strays == ("h3",), got


def test_a_stale_master_does_not_pull_a_slave_from_a_master_it_marked_failed():
    """The old master's database may mark the new master failed: that proves nothing."""
    pv = pool(_hosts(3, h2="failed"))
    got = roles.resolve_masters(pv, "h1", {"h2": ("timeout", None), "h3": ("slave", "127.9.0.2")})
    assert got.action == roles.STAND_DOWN and got.strays == ()


# --- finding 3: exactly one takeover candidate, and a last check -------------------------------

def _slave_step(me, cached_autopromote, reachable, n=4):
    from core_builders import down, policy
    from halizard.core import quorum
    from halizard.core import takeover as T

    pol = policy(FENCE_METHOD="XVM")
    pv = pool(_hosts(n), autopromote_uuid=cached_autopromote)
    q = quorum.compute(me, ["h%d" % i for i in range(1, n + 1)], reachable, None, pol)
    inp = T.TakeoverInputs(self_uuid=me, pool=pv, master_probe=down(at=0.0), quorum=q,
                           autopromote=cached_autopromote, reachable=frozenset(reachable))
    return T.step(T.TakeoverState(), inp, pol, 0.0)


def test_two_slaves_with_different_cached_takeover_slaves_elect_exactly_one():
    """Failed before: h2 missed the master's move of autopromote to h3; both fenced and transitioned."""
    from halizard.core import takeover as T

    h2 = _slave_step("h2", "h2", {"h3", "h4"})
    h3 = _slave_step("h3", "h3", {"h2", "h4"})
    acting = [s for s in (h2, h3) if s.state.phase != T.IDLE]
    assert len(acting) == 1, (h2.why, h3.why)
    assert acting[0] is h2  # the smallest uuid the round reached


def test_the_next_slave_acts_when_the_smallest_one_is_gone_too():
    from halizard.core import takeover as T

    assert _slave_step("h3", "h2", {"h4", "h5"}, n=5).state.phase == T.FENCING
    assert _slave_step("h4", "h2", {"h3", "h5"}, n=5).state.phase == T.IDLE


def test_takeover_candidate_skips_disabled_hosts_and_the_old_master():
    hosts = _hosts(4)
    hosts[1] = host("h2", address="127.9.0.2", enabled=False)
    pv = pool(hosts)
    assert roles.takeover_candidate(pv, "h4", {"h1", "h2", "h3"}) == "h3"
    assert roles.takeover_candidate(pv, "h4", set()) == "h4"
    assert roles.takeover_candidate(pv, "h1", set()) is None


def _check(now, answered=("h3",), has_quorum=True, self_fencing=False):
    from core_builders import policy
    from halizard.core.quorum import QuorumResult

    q = QuorumResult(3, 4, has_quorum, False, False, "3 of 4" if has_quorum else "1 of 4")
    return roles.may_transition("127.9.0.1", frozenset(answered), now, q, self_fencing, policy())


def test_last_check_passes_when_peers_still_follow_the_old_master():
    got = _check({"h3": ("slave", "127.9.0.1"), "h4": ("timeout", None)})
    assert got.allowed, got.why


def test_last_check_stops_on_a_peer_answering_as_master():
    got = _check({"h3": ("master", None)})
    assert not got.allowed and "h3 answers as master" in got.why


def test_last_check_stops_on_a_peer_following_another_master():
    got = _check({"h3": ("slave", "127.9.0.4")})
    assert not got.allowed and "another master" in got.why


def test_last_check_stops_on_a_peer_that_went_silent_it_may_be_transitioning():
    got = _check({"h3": ("timeout", None)})
    assert not got.allowed and "may be taking over" in got.why


def test_last_check_stops_without_quorum_or_while_self_fencing():
    assert not _check({"h3": ("slave", "127.9.0.1")}, has_quorum=False).allowed
    assert not _check({"h3": ("slave", "127.9.0.1")}, self_fencing=True).allowed


def test_an_aborted_transition_returns_to_idle_and_a_refused_restart_waits():
    from core_builders import down, policy
    from halizard.core import quorum
    from halizard.core import takeover as T

    pol = policy(FENCE_METHOD="XVM")
    pv = pool(_hosts(3), autopromote_uuid="h2")
    inp = T.TakeoverInputs("h2", pv, down(at=0.0), quorum.compute("h2", ["h1", "h2", "h3"], ["h3"], None, pol),
                           "h2")
    at_transition = T.TakeoverState(phase=T.TRANSITION, master_uuid="h1", proof="fenced")
    assert T.step(at_transition, inp, pol, 1.0, T.ABORTED).state.phase == T.IDLE
    at_restart = T.TakeoverState(phase=T.RESTART, master_uuid="h1", proof="fenced")
    waiting = T.step(at_restart, inp, pol, 1.0, T.REFUSED)
    assert waiting.state.phase == T.RESTART and waiting.actions == ()
    assert T.step(at_restart, inp, pol, 1.0, T.OK).state.phase == T.DONE


# --- issue 19 item 1: two masters, exactly one wins --------------------------------------------

def _cascade_views():
    """Issue 19 item 1 after heal: host1 (old master) and host3 (took over, then self-fenced)."""
    old_db = pool(_hosts(4), autopromote_uuid="h3")                                    # h1's database
    new_db = pool(_hosts(4, master=3, h1="failed"), master="h3", autopromote_uuid="h2")  # h3's database
    # h2 and h4 never got host3's recover_slaves: they follow host1
    logins = {"h1": ("master", None), "h2": ("slave", "127.9.0.1"), "h3": ("master", None),
              "h4": ("slave", "127.9.0.1")}
    return old_db, new_db, logins


def test_the_two_masters_of_the_cascade_agree_on_one_winner():
    """Failed before: each stood down for the other (takeover slave / followers) and nobody acted."""
    old_db, new_db, logins = _cascade_views()
    at_h1 = roles.resolve_masters(old_db, "h1", {u: v for u, v in logins.items() if u != "h1"})
    at_h3 = roles.resolve_masters(new_db, "h3", {u: v for u, v in logins.items() if u != "h3"}, replaced="h1")
    assert (at_h1.action, at_h3.action) == (roles.STAND_DOWN, roles.RECOVER), (at_h1.why, at_h3.why)
    assert at_h3.others == ("h1",)


def test_the_cascade_settles_even_if_the_record_was_never_written():
    old_db, new_db, logins = _cascade_views()
    answers = [roles.resolve_masters(db, me, {u: v for u, v in logins.items() if u != me}, tie_due=True).action
               for db, me in ((old_db, "h1"), (new_db, "h3"))]
    assert sorted(answers) == sorted([roles.RECOVER, roles.STAND_DOWN])


def test_tie_break_is_due_after_three_cycles_only():
    from core_builders import policy

    pol = policy(MONITOR_DELAY=2, XAPI_COUNT=2, XE_TIMEOUT=3, XAPI_DELAY=1)
    assert not roles.tie_break_due(None, 1000.0, pol)
    assert not roles.tie_break_due(1000.0, 1029.0, pol)
    assert roles.tie_break_due(1000.0, 1030.0, pol)


def test_takeover_record_text():
    assert roles.parse_takeover(None) == roles.TakeoverRecord(0, None)
    assert roles.parse_takeover("x y") == roles.TakeoverRecord(0, None)
    assert roles.parse_takeover("3 h1") == roles.TakeoverRecord(3, "h1")
    assert roles.next_takeover("", "h1") == "1 h1"
    assert roles.next_takeover("1 h1", "h3") == "2 h3"
    assert roles.next_takeover("2 h3", "h3") == "2 h3"  # a resumed takeover writes the same record
