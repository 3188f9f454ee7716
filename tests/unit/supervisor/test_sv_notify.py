"""sd_notify datagrams against a real unix datagram socket."""
import os
import socket

from halizard.supervisor.notify import Notifier


def _listener(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    return sock


def test_ready_watchdog_reloading_stopping(tmp_path):
    path = str(tmp_path / "n.sock")
    sock = _listener(path)
    notifier = Notifier(environ={"NOTIFY_SOCKET": path})
    assert notifier.ready("up")
    assert sock.recv(1024).decode().split("\n") == ["READY=1", "MAINPID=%d" % os.getpid(), "STATUS=up"]
    assert notifier.watchdog() and sock.recv(1024) == b"WATCHDOG=1"
    assert notifier.reloading()
    fields = sock.recv(1024).decode().split("\n")
    assert fields[0] == "RELOADING=1" and fields[1].startswith("MONOTONIC_USEC=")
    assert notifier.stopping() and sock.recv(1024) == b"STOPPING=1"
    sock.close()


def test_abstract_socket_address():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = "halizard-test-%d" % os.getpid()
    sock.bind("\0" + name)
    sock.settimeout(5)
    assert Notifier(environ={"NOTIFY_SOCKET": "@" + name}).ready()
    assert sock.recv(1024).startswith(b"READY=1")
    sock.close()


def test_without_systemd_everything_is_a_no_op(tmp_path):
    assert Notifier(environ={}).ready() is False
    assert Notifier(environ={"NOTIFY_SOCKET": str(tmp_path / "absent")}).watchdog() is False


def test_watchdog_interval_is_half_the_timeout():
    assert Notifier(environ={"WATCHDOG_USEC": "30000000"}).watchdog_interval() == 15.0
    assert Notifier(environ={"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}).watchdog_interval() is None
    assert Notifier(environ={}).watchdog_interval() is None
