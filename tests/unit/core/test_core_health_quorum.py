import pytest

from core_builders import policy
from halizard.core import health, quorum
from halizard.core.health import ProbeResult

P = policy()  # XAPI_COUNT=2
HEUR = policy(FENCE_HEURISTICS_IPS="127.0.0.1")


@pytest.mark.parametrize("probe,state,isolated", [
    (None, health.UNKNOWN, False),
    (ProbeResult(tries=1, xapi_ok=True), health.HEALTHY, False),
    (ProbeResult(tries=2, xapi_ok=True, network_ok=False), health.HEALTHY, False),
    (ProbeResult(tries=0, xapi_ok=False), health.UNKNOWN, False),
    (ProbeResult(tries=1, xapi_ok=False, network_ok=False), health.UNKNOWN, False),
    (ProbeResult(tries=2, xapi_ok=False, network_ok=False), health.FAILED, True),
    (ProbeResult(tries=2, xapi_ok=False, network_ok=True), health.FAILED, False),
    (ProbeResult(tries=2, xapi_ok=False, network_ok=None), health.FAILED, False),
    (ProbeResult(tries=5, xapi_ok=False, network_ok=False), health.FAILED, True),
])
def test_classify(probe, state, isolated):
    v = health.classify(probe, P)
    assert (v.state, v.isolated) == (state, isolated)
    assert v.why


def test_negative_tries_rejected():
    with pytest.raises(ValueError):
        ProbeResult(tries=-1, xapi_ok=False)


def hosts(n):
    return ["h%d" % i for i in range(1, n + 1)]


@pytest.mark.parametrize("n,reach,heur_ok,pol,has,tie,other", [
    (1, [], None, P, True, False, False),                 # single host pool
    (2, ["h2"], None, P, True, False, False),             # 2 of 2
    (2, [], None, P, False, False, False),                # 2-host, peer gone, no heuristics: nobody wins
    (2, [], True, HEUR, True, True, True),                # 2-host works with the heuristic tie-break
    (2, [], False, HEUR, False, False, True),             # heuristic lost: the peer may have it
    (2, [], True, P, False, False, False),                # heuristic answered but none configured
    (3, ["h2"], None, P, True, False, False),             # 2 of 3
    (3, [], True, HEUR, False, False, True),              # 1|2 split: the lone host never wins by heuristic
    (3, ["h2"], False, HEUR, True, False, False),         # the 2-side wins without heuristic
    (4, ["h2"], True, HEUR, True, True, True),            # 2|2 tie broken
    (4, ["h2"], None, P, False, False, False),            # 2|2 without heuristics
    (5, ["h2", "h3"], None, P, True, False, False),
    (5, ["h2"], True, HEUR, False, False, True),          # 2 of 5 never wins
])
def test_quorum_table(n, reach, heur_ok, pol, has, tie, other):
    q = quorum.compute("h1", hosts(n), reach, heur_ok, pol)
    assert (q.has_quorum, q.by_tiebreak, q.other_side_could_win) == (has, tie, other), q.why
    assert q.strict_majority == (has and not tie)


def test_three_host_split_never_both_sides():
    """Whatever the heuristics answer, at most one side of any split of 3 has quorum."""
    all_hosts = hosts(3)
    for side in (["h1"], ["h1", "h2"], ["h1", "h3"]):
        other = [h for h in all_hosts if h not in side]
        for ha in (True, False):
            for hb in (True, False):
                a = quorum.compute(side[0], all_hosts, side, ha, HEUR)
                b = quorum.compute(other[0], all_hosts, other, hb, HEUR)
                assert not (a.has_quorum and b.has_quorum)


def test_unreachable_self_still_counts_and_disabled_hosts_do_not():
    q = quorum.compute("h1", ["h1", "h2", "h3"], ["h9"], None, P)
    assert q.votes == 1 and q.total == 3 and not q.has_quorum
    q = quorum.compute("h4", ["h1", "h2"], ["h1", "h2"], None, P)  # a disabled host counts itself
    assert q.total == 3 and q.votes == 3


def test_carry_streak_keeps_the_earliest_start_of_an_isolated_streak():
    r1 = ProbeResult(tries=2, xapi_ok=False, network_ok=False, first_failure_at=10.0)
    r2 = ProbeResult(tries=2, xapi_ok=False, network_ok=False, first_failure_at=40.0)
    m = health.carry_streak(r1, r2)
    assert m.first_failure_at == 10.0 and m.network_ok is False and m.tries == 2
    hung = ProbeResult(tries=2, xapi_ok=False, network_ok=True, first_failure_at=70.0)
    assert health.carry_streak(m, hung) == hung              # reached by network: streak over
    r3 = ProbeResult(tries=2, xapi_ok=False, network_ok=False, first_failure_at=100.0)
    assert health.carry_streak(hung, r3) == r3               # a new isolation streak starts at 100
    ok = ProbeResult(tries=1, xapi_ok=True, network_ok=True)
    assert health.carry_streak(r1, ok) == ok
    assert health.carry_streak(ok, r2) == r2
    assert health.carry_streak(None, r2) == r2
