"""host_still_answers: after a claimed "off", a network answer or an xapi login means alive."""
import socket
import time

from halizard.probes.deadline import after
from halizard.probes.net import ProbeTarget
from halizard.probes.still_alive import host_still_answers



class PortPlatform:
    """Probes every address through one loopback TCP port (as the simulated platform does per host)."""

    def __init__(self, port):
        self.port = port

    def probe_target(self, _address):
        return ProbeTarget(address="127.0.0.1", method="tcp", port=self.port)


def _listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


def test_network_answer_counts_although_xapi_hangs(fake_xapi):
    hung = fake_xapi("hang")
    sock = _listener()
    try:
        started = time.monotonic()
        assert host_still_answers(PortPlatform(sock.getsockname()[1]), hung.url, after(3))
        assert time.monotonic() - started < 2.5, "the network answer must not wait for the hung xapi"
    finally:
        sock.close()


def test_silent_network_and_hung_xapi_is_not_alive_and_ends_by_the_deadline(fake_xapi, closed_port):
    hung = fake_xapi("hang")
    started = time.monotonic()
    assert not host_still_answers(PortPlatform(closed_port), hung.url, after(2))
    assert time.monotonic() - started < 4


def test_xapi_login_counts_when_the_network_probe_fails(fake_xapi, closed_port):
    slave = fake_xapi("slave")
    assert host_still_answers(PortPlatform(closed_port), slave.url, after(3))


def test_no_address_or_no_time_is_not_alive(closed_port):
    assert not host_still_answers(PortPlatform(closed_port), "", after(3))
    assert not host_still_answers(PortPlatform(closed_port), "127.0.0.1", time.monotonic() - 1)


def test_without_a_platform_only_the_login_is_tried(fake_xapi):
    assert host_still_answers(None, fake_xapi("slave").url, after(3))
    assert host_still_answers(None, fake_xapi("refuse").url, after(3))   # a master refusing the empty login
    assert not host_still_answers(None, fake_xapi("booting").url, after(3))


class BrokenProbePlatform:
    """A platform whose network probe cannot even be prepared (e.g. ping's raw socket is refused)."""

    def probe_target(self, _address):
        raise OSError(1, "Operation not permitted")


def test_a_network_probe_that_raises_still_leaves_the_login_to_decide(fake_xapi):
    # failed before: the OSError left host_still_answers before the login (and the fence was trusted)
    assert host_still_answers(BrokenProbePlatform(), fake_xapi("slave").url, after(3))
    assert not host_still_answers(BrokenProbePlatform(), fake_xapi("booting").url, after(3))
