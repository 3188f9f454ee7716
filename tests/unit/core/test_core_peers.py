"""The slave's half of issue 13 finding 4 (halizard.core.peers): a slave counts the master dead only
when every peer it reaches lost the master too, answered, and follows the same master."""
from halizard.core.peers import PeerAnswer, margin, master_gone_for_all, stale_after
from halizard.core import timing
from halizard.core.policy import Policy

POLICY = Policy(XE_TIMEOUT=2.0, MONITOR_DELAY=2.0)
OLD = "127.9.9.1"


def slave(uuid, age, master=OLD):
    return PeerAnswer(host_uuid=uuid, is_master=False, master=master, master_age=age)


def test_a_peer_that_saw_the_master_one_second_ago_holds_the_takeover():
    perm = master_gone_for_all(OLD, 30.0, ["s"], {"s": slave("s", 1.0)}, POLICY)
    assert not perm.allowed and "read the master 1.0 s ago" in perm.why


def test_every_peer_lost_the_master_too_allows_it():
    answers = {"s": slave("s", 31.0), "t": slave("t", None)}
    perm = master_gone_for_all(OLD, 30.0, ["s", "t"], answers, POLICY)
    assert perm.allowed and "s, t" in perm.why


def test_a_peer_that_does_not_answer_holds_the_takeover():
    perm = master_gone_for_all(OLD, 300.0, ["s", "t"], {"s": slave("s", 400.0), "t": None}, POLICY)
    assert not perm.allowed and "t did not answer" in perm.why
    assert not master_gone_for_all(OLD, 300.0, ["s"], {}, POLICY).allowed


def test_no_peer_to_ask_allows_it():
    assert master_gone_for_all(OLD, 30.0, [], {}, POLICY).allowed
    assert master_gone_for_all(OLD, None, [], {}, POLICY).allowed


def test_a_peer_that_is_master_or_follows_another_master_holds_it():
    master = PeerAnswer(host_uuid="s", is_master=True, master="", master_age=None)
    assert "is the pool master" in master_gone_for_all(OLD, 30.0, ["s"], {"s": master}, POLICY).why
    other = master_gone_for_all(OLD, 30.0, ["s"], {"s": slave("s", 100.0, master="127.9.9.7")}, POLICY)
    assert not other.allowed and "another master" in other.why
    same = master_gone_for_all(OLD, 30.0, ["s"], {"s": slave("s", 100.0, master="https://127.9.9.1/")}, POLICY)
    assert same.allowed


def test_in_a_real_death_the_difference_stays_within_one_try_so_it_is_never_held_for_ever():
    # this host's first failed try began up to one try (XE_TIMEOUT) before the death; the peer's
    # last good read began before it: the peer's age is at least window - XE_TIMEOUT, at any time
    for later in (0.0, 10.0, 1000.0):
        window = 5.0 + later
        age = window - margin(POLICY) + 0.01
        assert master_gone_for_all(OLD, window, ["s"], {"s": slave("s", age)}, POLICY).allowed


def test_without_a_failure_streak_of_its_own_a_host_with_peers_is_held():
    assert not master_gone_for_all(OLD, None, ["s"], {"s": slave("s", 50.0)}, POLICY).allowed


def test_a_read_older_than_the_self_fence_wait_no_longer_holds_it():
    # this host's streak began with a slow try long ago, the peer read the master after that and
    # nobody read it since: the master died; the hold lasts at most W (stale_after), not for ever
    wait = stale_after(POLICY)
    assert wait == timing.recovery_wait(POLICY)
    assert not master_gone_for_all(OLD, wait + 60.0, ["s"], {"s": slave("s", wait - 1.0)}, POLICY).allowed
    assert master_gone_for_all(OLD, wait + 60.0, ["s"], {"s": slave("s", wait + 1.0)}, POLICY).allowed
