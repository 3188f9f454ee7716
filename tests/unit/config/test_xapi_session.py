"""The session layer against the simulator's real servers: this host's xapi through its Unix socket
(no password), a slave forwarding to its master, deadlines, typed errors."""
import os
import time

import pytest

from halizard.xapi import session as xs
from halizard.xapi.errors import XapiFailure, XapiTimeout, XapiUnreachable


@pytest.fixture
def pool(inproc_pool):
    """An in-process pool: its host roots have no password anywhere, only the xapi socket."""
    return inproc_pool(hosts=3, vms=2)


def test_connect_from_master_and_slave_roots_goes_through_the_local_socket(pool):
    for name in ("host1", "host2", "host3"):
        root = pool.host(name)["root"]
        with xs.connect(root, timeout=5) as session:
            assert session.url == os.path.join(root, "var/lib/xcp/xapi")
            pools = session.xenapi.pool.get_all()
            assert len(pools) == 1
            master = session.xenapi.pool.get_master(pools[0])
            assert session.call("host.get_name_label", master) == "host1"
            me = session.xenapi.session.get_this_host(session.handle)
            assert session.call("host.get_name_label", me) == name


def test_a_slave_forwards_to_the_master_pool_conf_names_nothing(pool):
    """The socket needs no master address: a stale pool.conf changes nothing."""
    root = pool.host("host3")["root"]
    with open(os.path.join(root, "etc/xensource/pool.conf"), "w") as handle:
        handle.write("slave:%s\n" % pool.host("host2")["address"])
    with xs.connect(root, timeout=5) as session:
        assert len(session.xenapi.host.get_all()) == 3


def test_a_missing_local_socket_is_one_clear_error(tmp_path):
    with pytest.raises(XapiUnreachable) as info:
        xs.connect(str(tmp_path), timeout=1)
    assert info.value.url == str(tmp_path / "var/lib/xcp/xapi")
    assert "No such file" in info.value.reason


def test_a_root_deeper_than_a_socket_address_still_connects(pool, tmp_path):
    """sun_path holds 107 bytes; a deep root is reached through its directory."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    (deep / "var/lib/xcp").mkdir(parents=True)
    os.symlink(os.path.join(pool.host("host2")["root"], "var/lib/xcp/xapi"), str(deep / "var/lib/xcp/xapi"))
    assert len(xs.local_socket_path(str(deep))) > 107
    with xs.connect(str(deep), timeout=5) as session:
        assert len(session.xenapi.host.get_all()) == 3


def test_slave_login_is_a_typed_failure(pool):
    with pytest.raises(XapiFailure) as info:
        xs.open_session(pool.host("host2")["address"], "root", pool.password, timeout=5)
    assert info.value.code == "HOST_IS_SLAVE"
    assert info.value.params == [pool.host("host1")["address"]]


def test_wrong_password_never_shows_the_password(pool):
    with pytest.raises(XapiFailure) as info:
        xs.open_session(pool.host("host1")["address"], "root", "not-the-Secret-42", timeout=5)
    assert info.value.code == "SESSION_AUTHENTICATION_FAILED"
    assert "not-the-Secret-42" not in str(info.value) + repr(info.value.params)


def test_failures_carry_code_and_params(pool):
    with xs.connect(pool.host("host1")["root"], timeout=5) as session:
        with pytest.raises(XapiFailure) as info:
            session.xenapi.VM.get_by_uuid("00000000-0000-0000-0000-000000000000")
    assert info.value.code == "UUID_INVALID"


def test_hung_master_leaves_a_slaves_socket_silent_within_the_deadline(pool):
    with xs.connect(pool.host("host2")["root"], timeout=5) as session:
        pool.fault("hang-xapi", "host1")
        try:
            started = time.monotonic()
            with pytest.raises(XapiTimeout) as info:
                session.xenapi.pool.get_all(timeout=1)
            assert time.monotonic() - started < 3
            assert info.value.seconds == 1
            started = time.monotonic()
            with pytest.raises(XapiTimeout):
                xs.connect(pool.host("host3")["root"], timeout=1)
            assert time.monotonic() - started < 3
        finally:
            pool.fault("unhang-xapi", "host1")
        assert len(session.xenapi.pool.get_all(timeout=5)) == 1   # answered again once the master is back


def test_powered_off_master_leaves_the_slave_waiting_until_the_deadline(pool):
    pool.fault("power-off", "host1")
    started = time.monotonic()
    with pytest.raises(XapiTimeout):
        xs.connect(pool.host("host2")["root"], timeout=2)
    assert time.monotonic() - started < 4


def test_powered_off_host_drops_its_own_socket(pool):
    pool.fault("power-off", "host2")
    with pytest.raises(XapiUnreachable):
        xs.connect(pool.host("host2")["root"], timeout=2)


def test_the_unix_transport_has_the_deadline_of_the_tcp_one(pool):
    """A hung xapi behind the socket: the login ends at its deadline, not never."""
    pool.fault("hang-xapi", "host1")
    try:
        for seconds in (0.5, 1.5):
            started = time.monotonic()
            with pytest.raises(XapiTimeout) as info:
                xs.connect(pool.host("host1")["root"], timeout=seconds)
            took = time.monotonic() - started
            assert seconds <= took < seconds + 1.0
            assert info.value.url.endswith("var/lib/xcp/xapi")
    finally:
        pool.fault("unhang-xapi", "host1")


def test_session_rejects_bad_timeouts():
    with pytest.raises(ValueError):
        xs.XapiSession("http://127.0.0.1/", timeout=0)


def test_url_for():
    assert xs.url_for("127.0.0.1") == "http://127.0.0.1/"
    assert xs.url_for("::1") == "http://[::1]/"
    assert xs.url_for("https://127.0.0.1") == "https://127.0.0.1/"


def test_one_session_shared_by_many_threads(pool):
    import threading
    results, errors = [], []
    with xs.connect(pool.host("host2")["root"], timeout=5) as session:
        def worker():
            try:
                for _ in range(5):
                    results.append(len(session.xenapi.host.get_all()))
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
        threads = [threading.Thread(target=worker) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []
    assert results == [3] * 80


def test_logout_ends_the_session(pool):
    session = xs.connect(pool.host("host1")["root"], timeout=5)
    handle = session.handle
    assert handle and handle.startswith("OpaqueRef:")
    session.logout()
    assert session.handle is None
    with pytest.raises(XapiFailure):
        session.xenapi.pool.get_all()


def _trickle(listener, stop):
    """Serve `listener` until `stop`: read a request, answer one byte every 0.2 s (never a whole answer)."""
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _addr = listener.accept()
        except OSError:
            continue
        try:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                if stop.is_set():
                    break
                conn.sendall(bytes([byte]))
                time.sleep(0.2)
        except OSError:
            pass
        finally:
            conn.close()


def _trickling(listener, call):
    """call() against a trickling `listener`: it must end with XapiTimeout within about its 1 s deadline."""
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=_trickle, args=(listener, stop), daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        with pytest.raises(XapiTimeout) as info:
            call()
        assert time.monotonic() - started < 2.5
        return info.value
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_a_trickling_peer_cannot_stretch_the_deadline():
    """A server that sends one byte every 0.2 s never trips the socket timeout; the call still ends."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    url = "http://127.0.0.1:%d/" % listener.getsockname()[1]
    _trickling(listener, lambda: xs.open_session(url, "root", "pw", timeout=1))


def test_a_trickling_local_socket_cannot_stretch_the_deadline(tmp_path):
    """The Unix transport has the TCP one's whole-exchange deadline, not only a per-read timeout."""
    import socket

    socket_dir = tmp_path / "var" / "lib" / "xcp"
    socket_dir.mkdir(parents=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_dir / "xapi"))
    listener.listen(4)
    error = _trickling(listener, lambda: xs.connect(str(tmp_path), timeout=1))
    assert error.url == str(socket_dir / "xapi")
