"""The service's login shared by its job runs (halizard.xapi.shared_login), against a simulated pool: a run
handed the login makes no login or logout call of its own; one that finds it invalid logs in again by
itself, says so, and the service makes a new one."""
import pytest

from waiting import wait_until

from halizard.xapi import session as xapi_session
from halizard.xapi.errors import XapiUnreachable
from halizard.xapi.shared_login import SharedLogin


@pytest.fixture
def pool(inproc_pool, monkeypatch):
    monkeypatch.setattr(xapi_session, "_INHERITED", {})   # what a job run inherited: this test's only
    monkeypatch.setattr(xapi_session, "_STALE", set())
    return inproc_pool(hosts=2, vms=2)


def _root(pool, name):
    return next(h["root"] for h in pool.json["hosts"] if h["name_label"] == name)


def _calls(pool, host, method):
    return pool.status()["calls"][host].get(method, 0)


def _shared(pool, root):
    login = SharedLogin(root)
    handle = wait_until(login.current, 10, interval=0.05, message="the service's login")
    return login, handle


def test_a_run_given_the_service_login_makes_no_login_or_logout_of_its_own(pool):
    root = _root(pool, "host2")   # a slave: each login and logout is a write to the master's database
    login, handle = _shared(pool, root)
    assert login.current() == handle and login.logins == 1
    before = {m: _calls(pool, "host2", m) for m in ("session.login_with_password", "session.logout")}
    xapi_session.inherit(root, handle)
    for _ in range(3):
        session = xapi_session.connect(root, timeout=5)
        assert session.xenapi.pool.get_all()
        session.logout()
    assert {m: _calls(pool, "host2", m) for m in before} == before
    assert not xapi_session.inherited_stale()
    session = xapi_session.connect(root, timeout=5)   # the shared login still works after their "logouts"
    assert session.handle == handle and session.xenapi.host.get_all()
    login.close()
    assert login.current() is None


def test_an_invalid_shared_login_is_replaced_by_the_run_and_then_by_the_service(pool):
    root = _root(pool, "host2")
    login, handle = _shared(pool, root)
    master_db = pool.pool.dbs[pool.host("host1")["uuid"]]
    master_db.destroy("session", handle)   # as after a new master or a restarted xapi
    xapi_session.inherit(root, handle)
    logins = _calls(pool, "host2", "session.login_with_password")
    logouts = _calls(pool, "host2", "session.logout")

    session = xapi_session.connect(root, timeout=5)
    assert session.xenapi.pool.get_all(), "the call succeeds on a login of the run's own"
    assert session.handle != handle and xapi_session.inherited_stale()
    session.logout()   # ends the run's own login
    assert _calls(pool, "host2", "session.login_with_password") == logins + 1
    assert _calls(pool, "host2", "session.logout") == logouts + 1
    again = xapi_session.connect(root, timeout=5)   # later sessions of that run log in at once
    assert again.handle not in (None, handle)
    again.logout()

    login.stale(handle)
    renewed = wait_until(login.current, 10, interval=0.05, message="a new login of the service")
    assert renewed != handle and login.logins == 2
    login.stale(handle)   # an older handle reported late leaves the new login alone
    assert login.current() == renewed
    login.close()


def test_no_login_is_handed_out_while_the_xapi_is_silent_and_attempts_are_spaced(monkeypatch):
    attempts = []

    def silent():
        attempts.append(1)
        raise XapiUnreachable("http://localhost/", "connection refused")

    now = [100.0]
    login = SharedLogin("/nonexistent", clock=lambda: now[0], login=silent)
    assert login.current() is None
    wait_until(lambda: not login._logging_in, 5, interval=0.01, message="the failed attempt")
    assert login.current() is None and len(attempts) == 1, "no new attempt within a second"
    now[0] += 1.5
    assert login.current() is None
    wait_until(lambda: len(attempts) == 2 and not login._logging_in, 5, interval=0.01, message="a second attempt")
    login.close()


def test_a_login_thread_that_cannot_start_hands_out_nothing_and_starts_no_run_failure(monkeypatch):
    """Out of threads, `current()` must not raise: the Runner calls it while starting every run."""
    import threading

    def refuse(*_args, **_kwargs):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    login = SharedLogin("/nonexistent", login=lambda: pytest.fail("no login without a thread"))
    assert login.current() is None and login.current() is None
    assert not login._logging_in
