"""Control socket: real unix socket, 0600, JSON lines, clear errors."""
import os
import socket
import stat

import pytest

from halizard.supervisor.control import ControlError, ControlServer, ServiceNotRunning, query, socket_path


@pytest.fixture
def server(tmp_path):
    def handler(command, args):
        if command == "echo":
            return {"args": args}
        raise ControlError("unknown command %r" % command)

    srv = ControlServer(str(tmp_path), handler)
    srv.start()
    yield srv
    srv.stop()


def test_query_round_trip_and_mode(server, tmp_path):
    assert query(str(tmp_path), "echo", name="x") == {"args": {"name": "x"}}
    mode = stat.S_IMODE(os.stat(socket_path(str(tmp_path))).st_mode)
    assert mode == 0o600


def test_errors_come_back_as_control_errors(server, tmp_path):
    with pytest.raises(ControlError, match="unknown command 'nope'"):
        query(str(tmp_path), "nope")


def test_malformed_request_gets_an_answer(server, tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(socket_path(str(tmp_path)))
    sock.sendall(b"not json\n")
    assert b"malformed request" in sock.recv(4096)
    sock.close()


def test_no_service(tmp_path):
    with pytest.raises(ServiceNotRunning):
        query(str(tmp_path), "status")


def test_stale_socket_file_means_not_running(tmp_path):
    path = socket_path(str(tmp_path))
    os.makedirs(os.path.dirname(path))
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    with pytest.raises(ServiceNotRunning):
        query(str(tmp_path), "status", timeout=1.0)


def test_stop_removes_the_socket(tmp_path):
    srv = ControlServer(str(tmp_path), lambda c, a: None)
    srv.start()
    srv.stop()
    assert not os.path.exists(socket_path(str(tmp_path)))
