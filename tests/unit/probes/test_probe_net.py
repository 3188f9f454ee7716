"""ICMP through the real `ping`, TCP and UDP probes, on loopback only; failures in a test-made namespace."""
import subprocess
import sys
import time

import pytest

from halizard.probes import net
from listeners import loopback_echo, loopback_listener
from halizard.probes.deadline import after


def test_ping_loopback_answers():
    result = net.icmp_ping("127.0.0.1", after(5))
    assert result.ok and result.method == "icmp"


def test_ping_with_source_address():
    assert net.icmp_ping("127.0.0.2", after(5), source="127.0.0.1").ok


def test_ping_fails_in_an_isolated_network_namespace():
    code = ("from halizard.probes import net\nfrom halizard.probes.deadline import after\n"
            "r = net.icmp_ping('127.0.0.1', after(2))\nprint('OK' if r.ok else 'DOWN', r.detail)\n")
    proc = subprocess.run(["unshare", "-n", sys.executable, "-c", code],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=30, check=True)
    assert proc.stdout.startswith("DOWN"), proc.stdout + proc.stderr


@pytest.mark.parametrize("bad", ["", "-c", "-I eth0", "127.0.0.1; reboot", "a b", "x" * 300, "../x"])
def test_bad_addresses_never_reach_ping(bad):
    with pytest.raises(net.ProbeInputError):
        net.icmp_ping(bad, after(2))


def test_missing_ping_is_a_setup_error_not_a_down_host():
    with pytest.raises(net.ProbeSetupError, match="not installed"):
        net.icmp_ping("127.0.0.1", after(2), ping="/nonexistent/ping")


def test_expired_deadline_does_not_ping():
    assert not net.icmp_ping("127.0.0.1", time.monotonic() - 1).ok


def _server(reply, accept=True):
    return loopback_listener(reply, answer=accept)


def test_tcp_probe_with_expected_reply():
    sock = _server(b"+")
    try:
        assert net.tcp_probe("127.0.0.1", sock.getsockname()[1], after(3), expect=b"+").ok
        assert net.tcp_probe("127.0.0.1", sock.getsockname()[1], after(3), source="127.0.0.1").ok
    finally:
        sock.close()


def test_tcp_probe_without_reply_when_one_is_expected():
    sock = _server(b"")
    try:
        result = net.tcp_probe("127.0.0.1", sock.getsockname()[1], after(3), expect=b"+")
        assert not result.ok and "expected" in result.detail
    finally:
        sock.close()


def test_tcp_probe_refused(closed_port):
    assert not net.tcp_probe("127.0.0.1", closed_port, after(3)).ok


def test_tcp_probe_silent_server_times_out_by_deadline():
    sock = _server(None, accept=False)  # the kernel completes the handshake, nobody answers
    try:
        started = time.monotonic()
        result = net.tcp_probe("127.0.0.1", sock.getsockname()[1], after(0.5), expect=b"+")
        assert not result.ok and time.monotonic() - started < 3
    finally:
        sock.close()


def test_tcp_probe_bad_port_and_source():
    with pytest.raises(net.ProbeInputError):
        net.tcp_probe("127.0.0.1", 0, after(1))
    with pytest.raises(net.ProbeSetupError):
        net.tcp_probe("127.0.0.1", 7, after(1), source="192.0.2.1")


def test_probe_dispatches_on_target():
    assert net.probe(net.ProbeTarget("127.0.0.1"), after(5)).ok
    with pytest.raises(net.ProbeInputError):
        net.probe(net.ProbeTarget("127.0.0.1", method="snmp"), after(1))


def test_udp_probe_answered_refused_and_silent():
    good, refusing, silent = loopback_echo(b"+"), loopback_echo(b"-"), loopback_echo(answer=False)
    try:
        answered = net.udp_probe("127.0.0.1", good.getsockname()[1], after(3), "127.0.0.1", b"+")
        refused = net.udp_probe("127.0.0.1", refusing.getsockname()[1], after(3), expect=b"+")
        started = time.monotonic()
        unanswered = net.udp_probe("127.0.0.1", silent.getsockname()[1], after(0.4), expect=b"+")
        took = time.monotonic() - started
    finally:
        for sock in (good, refusing, silent):
            sock.close()
    assert answered.ok and answered.method == "udp" and "answered" in answered.detail
    assert not refused.ok and "refused" in refused.detail and refused.elapsed < 1.0
    assert not unanswered.ok and "no answer" in unanswered.detail and 0.35 < took < 3


def test_udp_probe_takes_only_the_answer_to_its_own_bytes():
    stray = loopback_echo(b"+", stray=True)
    try:
        assert net.udp_probe("127.0.0.1", stray.getsockname()[1], after(3), expect=b"+").ok
    finally:
        stray.close()


def test_udp_probe_of_a_closed_port_fails_at_once(closed_port):
    started = time.monotonic()
    result = net.udp_probe("127.0.0.1", closed_port, after(3), expect=b"+")
    assert not result.ok and time.monotonic() - started < 1.0   # the ICMP port unreachable


def test_udp_probe_bad_port_and_source():
    with pytest.raises(net.ProbeInputError):
        net.udp_probe("127.0.0.1", 70000, after(1))
    with pytest.raises(net.ProbeSetupError):
        net.udp_probe("127.0.0.1", 7, after(1), source="192.0.2.1")
    assert not net.udp_probe("127.0.0.1", 7, time.monotonic() - 1).ok
