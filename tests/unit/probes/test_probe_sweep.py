"""One sweep probes many hosts at once (halizard.probes.sweep): TCP and ICMP on loopback only,
silence and failures in network namespaces the tests make themselves."""
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from halizard.probes import net, sweep
from listeners import loopback_echo, loopback_listener
from halizard.probes.deadline import after
from halizard.probes.net import ProbeTarget


_server = loopback_listener


def _tcp(sock, expect=b"+"):
    return ProbeTarget("127.0.0.1", "tcp", sock.getsockname()[1], expect)


def test_tcp_answered_refused_wrong_reply_and_silent_in_one_sweep():
    good, wrong, silent = _server(b"+"), _server(b"-"), _server(b"+", answer=False)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused = closed.getsockname()[1]
    closed.close()
    try:
        began = time.monotonic()
        got = sweep.probe_all([("good", _tcp(good)), ("wrong", _tcp(wrong)), ("silent", _tcp(silent)),
                               ("refused", ProbeTarget("127.0.0.1", "tcp", refused, b"+")),
                               ("no-reply-needed", _tcp(silent, expect=b""))], after(0.6))
        took = time.monotonic() - began
    finally:
        for sock in (good, wrong, silent):
            sock.close()
    assert got["good"].ok and got["good"].detail.endswith("answered")
    assert not got["wrong"].ok and "without the expected reply" in got["wrong"].detail
    assert not got["silent"].ok and "no answer" in got["silent"].detail
    assert not got["refused"].ok and "refused" in got["refused"].detail.lower()
    assert got["no-reply-needed"].ok   # a completed connect is the whole probe then
    assert 0.5 < took < 2.0, took      # the silent one ends at the deadline (slack for a loaded machine)


def test_many_silent_peers_take_one_deadline_and_no_thread():
    silent = _server(b"+", answer=False)
    threads = threading.active_count()
    try:
        began = time.monotonic()
        got = sweep.probe_all([(i, _tcp(silent)) for i in range(60)], after(0.5))
        took = time.monotonic() - began
        assert threading.active_count() == threads
    finally:
        silent.close()
    assert len(got) == 60 and not any(r.ok for r in got.values())
    assert took < 3.0, took   # one deadline for all: 60 probes one after another would take 30 s


def _udp(sock, expect=b"+"):
    return ProbeTarget("127.0.0.1", "udp", sock.getsockname()[1], expect)


def test_udp_answered_refused_stray_and_silent_in_one_sweep(closed_port):
    seen = []
    good, refusing = loopback_echo(b"+", seen=seen), loopback_echo(b"-")
    stray, silent = loopback_echo(b"+", stray=True), loopback_echo(answer=False)
    try:
        began = time.monotonic()
        got = sweep.probe_all([("good", _udp(good)), ("good again", _udp(good)), ("refused", _udp(refusing)),
                               ("stray", _udp(stray)), ("silent", _udp(silent)),
                               ("closed", ProbeTarget("127.0.0.1", "udp", closed_port, b"+"))],
                              after(0.6), source="127.0.0.7")
        took = time.monotonic() - began
    finally:
        for sock in (good, refusing, stray, silent):
            sock.close()
    assert got["good"].ok and got["good again"].ok and got["good"].detail.endswith("answered")
    assert seen == ["127.0.0.7", "127.0.0.7"]      # from the source address
    assert not got["refused"].ok and "refused" in got["refused"].detail
    assert got["stray"].ok                          # an answer to other bytes is not taken for it
    assert not got["silent"].ok and "no answer" in got["silent"].detail
    assert not got["closed"].ok
    assert 0.5 < took < 2.0, took


def test_many_udp_peers_share_one_socket_and_no_thread(monkeypatch):
    import os

    good = loopback_echo(b"+")
    threads, descriptors = threading.active_count(), len(os.listdir("/proc/self/fd"))
    opened = []
    real_socket = socket.socket

    def counting(*args, **kwargs):
        opened.append(args)
        return real_socket(*args, **kwargs)
    monkeypatch.setattr(sweep.socket, "socket", counting)
    try:
        got = sweep.probe_all([(i, _udp(good)) for i in range(60)], after(2))
    finally:
        monkeypatch.undo()
        good.close()
    assert all(r.ok for r in got.values()) and len(got) == 60
    assert len(opened) == 1 and threading.active_count() == threads
    assert len(os.listdir("/proc/self/fd")) == descriptors - 1   # the echo's socket closed, the sweep's too


def test_tcp_probe_leaves_from_the_source_address():
    seen = []
    good = _server(b"+", seen=seen)
    try:
        got = sweep.probe_all([("p", _tcp(good))], after(2), source="127.0.0.7")
    finally:
        good.close()
    assert got["p"].ok and seen == ["127.0.0.7"]


@pytest.mark.parametrize("target", [ProbeTarget("", "tcp", 7), ProbeTarget("-c 1", "icmp"),
                                    ProbeTarget("127.0.0.1; reboot", "icmp"), ProbeTarget("127.0.0.1", "tcp", 0),
                                    ProbeTarget("127.0.0.1", "tcp", 70000), ProbeTarget("127.0.0.1", "udp", 0),
                                    ProbeTarget("127.0.0.1", "pigeon")])
def test_a_target_that_cannot_be_probed_fails_and_never_raises(target):
    got = sweep.probe_all([("x", target)], after(1))
    assert not got["x"].ok


def test_an_unusable_source_fails_every_probe():
    good = _server(b"+")
    try:
        got = sweep.probe_all([("tcp", _tcp(good)), ("icmp", ProbeTarget("127.0.0.1")),
                               ("udp", ProbeTarget("127.0.0.1", "udp", 7, b"+"))], after(1), source="not an address")
    finally:
        good.close()
    assert not got["tcp"].ok and not got["icmp"].ok and not got["udp"].ok


def test_an_expired_deadline_probes_nothing():
    got = sweep.probe_all([("a", ProbeTarget("127.0.0.1")), ("b", ProbeTarget("127.0.0.1", "tcp", 7))],
                          time.monotonic() - 1)
    assert not got["a"].ok and not got["b"].ok


def test_icmp_echo_through_one_raw_socket_for_both_families(monkeypatch):
    def no_ping(*_args, **_kwargs):
        raise AssertionError("the `ping` program ran: the raw socket was not used")
    monkeypatch.setattr(net, "icmp_ping", no_ping)
    got = sweep.probe_all([("v4", ProbeTarget("127.0.0.1")), ("v4b", ProbeTarget("127.0.0.9")),
                           ("v6", ProbeTarget("::1"))], after(2), source=None)
    assert all(r.ok and r.detail == "echo reply" for r in got.values()), got


def test_icmp_without_a_raw_socket_falls_back_to_ping(monkeypatch):
    monkeypatch.setattr(sweep._Echo, "open", classmethod(lambda cls, family, source: None))
    ran = []
    real = net.icmp_ping

    def counted(address, deadline, source=None):
        ran.append(address)
        return real(address, deadline, source)
    monkeypatch.setattr(net, "icmp_ping", counted)
    got = sweep.probe_all([("a", ProbeTarget("127.0.0.1")), ("b", ProbeTarget("localhost"))], after(3))
    assert got["a"].ok and got["b"].ok and sorted(ran) == ["127.0.0.1", "localhost"]


def _in_namespace(code):
    """Run `code` in a new network namespace (only loopback, brought up there) and return its output."""
    prelude = ("import subprocess, time\nsubprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)\n"
               "from halizard.probes import sweep\nfrom halizard.probes.net import ProbeTarget\n"
               "from halizard.probes.deadline import after\n")
    proc = subprocess.run(["unshare", "-n", sys.executable, "-c", prelude + code], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=30, check=True)
    return proc.stdout


def test_an_unanswered_echo_ends_at_the_deadline_beside_an_answered_one():
    # in the test's own namespace IPv4 ignores echo requests, IPv6 still answers them
    out = _in_namespace(
        "open('/proc/sys/net/ipv4/icmp_echo_ignore_all', 'w').write('1')\n"
        "began = time.monotonic()\n"
        "got = sweep.probe_all([('v4', ProbeTarget('127.0.0.1')), ('v6', ProbeTarget('::1'))], after(0.8))\n"
        "print(got['v4'].ok, got['v6'].ok, round(time.monotonic() - began, 1), got['v4'].detail)\n")
    v4, v6, took, detail = out.split(" ", 3)
    assert (v4, v6) == ("False", "True") and "no echo reply" in detail, out
    assert 0.7 <= float(took) <= 2.5, out   # at the deadline, with slack for a loaded machine


def test_a_host_whose_network_is_down_reaches_nobody():
    out = _in_namespace(
        "subprocess.run(['ip', 'link', 'set', 'lo', 'down'], check=True)\n"
        "got = sweep.probe_all([('v4', ProbeTarget('127.0.0.1')), ('tcp', ProbeTarget('127.0.0.1', 'tcp', 7, b'+'))],"
        " after(1))\n"
        "print(got['v4'].ok, got['tcp'].ok)\n")
    assert out.split() == ["False", "False"], out


def _reply(ident, seq, payload, kind=0, header=True):
    icmp = struct.pack("!BBHHH", kind, 0, 0, ident, seq) + payload
    return (b"\x45" + b"\0" * 19 + icmp) if header else icmp


def test_only_our_own_echo_reply_is_taken():
    assert sweep.parse_reply(socket.AF_INET, _reply(7, 1, b"n" * 8)) == (7, 1, b"n" * 8)
    assert sweep.parse_reply(socket.AF_INET, _reply(7, 1, b"n" * 8, kind=8)) is None   # our own request
    assert sweep.parse_reply(socket.AF_INET, b"\x45" + b"\0" * 10) is None              # truncated
    assert sweep.parse_reply(socket.AF_INET6, _reply(7, 2, b"x", kind=129, header=False)) == (7, 2, b"x")
    assert sweep.parse_reply(socket.AF_INET6, _reply(7, 2, b"x", kind=128, header=False)) is None


def test_the_echo_request_carries_a_valid_checksum():
    packet = sweep.echo_request(socket.AF_INET, 0x1234, 5, b"abcdefgh")
    assert sweep.checksum(packet) == 0 and packet[0] == 8
    assert sweep.echo_request(socket.AF_INET6, 1, 1, b"x")[0] == 128


def test_no_socket_left_fails_that_probe_and_the_round_goes_on(monkeypatch):
    good = _server(b"+")
    real = socket.socket
    calls = []

    def scarce(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise OSError(24, "Too many open files")
        return real(*args, **kwargs)
    monkeypatch.setattr(sweep.socket, "socket", scarce)
    try:
        got = sweep.probe_all([("first", _tcp(good)), ("second", _tcp(good))], after(2))
    finally:
        good.close()
    assert not got["first"].ok and "Too many open files" in got["first"].detail
    assert got["second"].ok
