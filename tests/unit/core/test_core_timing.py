import pytest

from core_builders import policy
from halizard.core import timing


def test_default_numbers_written_out():
    p = policy()
    # R = 2*10 + 1*10 = 30; detect = max(1+5, max(15,30)+30) = 60
    assert timing.probe_round(p) == 30
    assert timing.isolation_detect(p) == 60
    assert timing.self_fence_deadline(p) == 60 + timing.SERVICE_RESTART_ALLOWANCE + 30 + timing.REBOOT_ALLOWANCE
    assert timing.minimum_wait(p) == timing.self_fence_deadline(p) + 10
    assert timing.recovery_wait(p) == timing.minimum_wait(p) + timing.SAFETY_MARGIN


def test_link_tolerance_dominates_when_large():
    p = policy(MGT_LINK_LOSS_TOLERANCE=500)
    assert timing.isolation_detect(p) == 501


def test_recovery_wait_always_longer_than_deadline_for_automatic_value():
    for count in (1, 2, 5):
        for delay in (1, 10, 30):
            for tol in (0, 5, 60):
                p = policy(XAPI_COUNT=count, XAPI_DELAY=delay, MGT_LINK_LOSS_TOLERANCE=tol)
                assert timing.recovery_wait(p) > timing.minimum_wait(p) > timing.self_fence_deadline(p)
                assert timing.check(p).safe


def test_explicit_wait_too_short_is_refused_with_explanation():
    p = policy(SELF_FENCE_WAIT=30)
    report = timing.check(p)
    assert not report.safe
    with pytest.raises(timing.UnsafeTiming) as err:
        timing.validate(p)
    assert "SELF_FENCE_WAIT=30" in str(err.value) and "deadline" in str(err.value)


def test_explicit_wait_long_enough_is_used():
    d = timing.minimum_wait(policy())
    p = policy(SELF_FENCE_WAIT=d + 1)
    assert timing.validate(p).recovery_wait == d + 1


def test_wait_not_above_deadline_plus_one_probe_is_unsafe():
    p = policy()
    assert not timing.check(policy(SELF_FENCE_WAIT=timing.self_fence_deadline(p))).safe
    assert not timing.check(policy(SELF_FENCE_WAIT=timing.minimum_wait(p))).safe
    assert timing.check(policy(SELF_FENCE_WAIT=timing.minimum_wait(p) + 0.5)).safe


@pytest.mark.parametrize("kw,hosts,needle", [
    ({"FENCE_ENABLED": 0}, None, "FENCE_ENABLED=0"),
    ({}, None, "FENCE_METHOD=POOL"),
    ({"FENCE_QUORUM_REQUIRED": 0}, None, "FENCE_QUORUM_REQUIRED=0"),
    ({"FENCE_METHOD": "XVM"}, 2, "no heuristic addresses"),
    ({"FENCE_METHOD": "XVM", "FENCE_HEURISTICS_IPS": "127.0.0.1"}, 2, "2-host pool"),
    ({"MGT_LINK_LOSS_TOLERANCE": 0}, None, "MGT_LINK_LOSS_TOLERANCE=0"),
])
def test_weak_combinations_are_warned(kw, hosts, needle):
    report = timing.check(policy(**kw), host_count=hosts)
    assert report.safe
    assert any(needle in w for w in report.warnings), report.warnings


def test_an_xe_timeout_within_xapi_s_login_failure_pause_is_warned():
    # real xapi answers SESSION_AUTHENTICATION_FAILED after 5 s: with XE_TIMEOUT <= 5 a second master
    # looks silent to the empty-login probe (halizard/sim/INTERFACE.md, PoolSpec(auth_failure_delay))
    assert any("XE_TIMEOUT=5 is not above" in w for w in timing.check(policy(XE_TIMEOUT=5)).warnings)
    assert not any("XE_TIMEOUT" in w for w in timing.check(policy(XE_TIMEOUT=6)).warnings)


def test_strong_setup_has_no_warning():
    report = timing.check(policy(FENCE_METHOD="XVM"), host_count=3)
    assert report.safe and report.warnings == ()


def test_numbers_quoted_in_docs_decisions_md():
    p = policy()
    r = timing.check(p)
    assert (r.probe_round, r.detect, r.self_fence_deadline, r.minimum_wait, r.recovery_wait) == (
        30, 60, 162, 172, 177)
