"""XVM fencing against the simulator's outer-dom0 endpoint (real XML-RPC over loopback),
driven by a tiny power table instead of a whole simulated pool."""
import socket
import threading
import time

import pytest
from loguru import logger

from halizard.fence.base import OFF, ON, RESET, FenceSettings
from halizard.fence.xvm import XvmAgent
from halizard.probes.deadline import after
from halizard.sim.outer import outer_vm_uuid, start_outer
from halizard.sim.tls import pool_certificate, server_context
from sim_pools import seed_certificate

H1 = "11111111-2222-3333-4444-555555555555"
H2 = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
UNMAPPED = "99999999-9999-9999-9999-999999999999"
PASSWORD = "outer-Pw-1"


class PowerTable(object):
    """The three things OuterDom0 asks of a pool: status(), fault() and can_send()."""

    def __init__(self):
        self.power = {"h1": "on", "h2": "on"}
        self.uuids = {"h1": H1, "h2": H2}
        self.faults = []
        self.lock = threading.Lock()

    def status(self):
        with self.lock:
            return {"hosts": [{"uuid": self.uuids[n], "name_label": n, "power": p} for n, p in self.power.items()]}

    def can_send(self, _address):
        return True  # the test's caller is no simulated host

    def fault(self, action, targets):
        with self.lock:
            self.faults.append((action, targets[0]))
            self.power[targets[0]] = {"power-off": "off", "power-on": "on", "reboot": "on"}[action]


@pytest.fixture
def outer(tmp_path):
    table = PowerTable()
    server = start_outer(table, PASSWORD, "127.0.0.1", server_context(*pool_certificate(seed_certificate(str(tmp_path)))), port=0)
    fence_dir = tmp_path / "fence"
    (fence_dir / "XVM").mkdir(parents=True)
    (fence_dir / "XVM" / "XVM.hosts").write_text(
        "# host:outer vm\n%s:%s\n%s:%s\n" % (H1, outer_vm_uuid(H1), H2, outer_vm_uuid(H2)))
    yield table, server.url, str(fence_dir)
    server.close()


def agent_for(url, fence_dir, password=PASSWORD):
    return XvmAgent(FenceSettings(method="XVM", file_loc=fence_dir, ip_address=url, password=password),
                    poll=0.05)


def test_stop_powers_off_and_verifies(outer):
    table, url, fence_dir = outer
    agent = agent_for(url, fence_dir)
    result = agent.fence(H1, "stop", after(10))
    assert result.verified and result.state == OFF
    assert table.power["h1"] == "off" and table.power["h2"] == "on"
    again = agent.fence(H1, "stop", after(10))
    assert again.verified and again.state == OFF and table.faults == [("power-off", "h1")]
    assert agent.status(H1, after(5)).state == OFF and agent.status(H2, after(5)).state == ON


def test_start_powers_on_and_verifies(outer):
    table, url, fence_dir = outer
    table.power["h2"] = "off"
    result = agent_for(url, fence_dir).fence(H2, "start", after(10))
    assert result.verified and result.state == ON and table.power["h2"] == "on"


def test_reset_really_resets(outer):
    table, url, fence_dir = outer
    result = agent_for(url, fence_dir).fence(H1, "reset", after(10))
    assert result.verified and result.state == RESET
    assert table.faults == [("reboot", "h1")]


def test_reset_of_halted_host_is_verified_off_and_not_started(outer):
    table, url, fence_dir = outer
    table.power["h1"] = "off"
    result = agent_for(url, fence_dir).fence(H1, "reset", after(10))
    assert result.verified and result.state == OFF and table.faults == []


def test_wrong_password_is_not_verified_and_never_logged(outer):
    table, url, fence_dir = outer
    lines = []
    sink = logger.add(lines.append, format="{message}")
    try:
        result = agent_for(url, fence_dir, password="wrong-Secret-9").fence(H1, "stop", after(5))
    finally:
        logger.remove(sink)
    assert not result.verified and "SESSION_AUTHENTICATION_FAILED" in result.detail
    assert "wrong-Secret-9" not in result.detail and table.power["h1"] == "on"
    assert lines and not any("wrong-Secret-9" in line for line in lines)


def test_unmapped_host_is_a_clear_failure(outer):
    _table, url, fence_dir = outer
    result = agent_for(url, fence_dir).fence(UNMAPPED, "stop", after(5))
    assert not result.verified and "not listed in" in result.detail


def test_malformed_map_is_a_clear_failure(outer):
    _table, url, fence_dir = outer
    with open(fence_dir + "/XVM/XVM.hosts", "a") as handle:
        handle.write("garbage line\n")
    result = agent_for(url, fence_dir).fence(H1, "stop", after(5))
    assert not result.verified and "XVM.hosts:4:" in result.detail


def test_the_password_goes_over_https_only(outer):
    from halizard.fence.base import FenceConfigError

    _table, url, fence_dir = outer
    assert url.startswith("https://") and agent_for(url, fence_dir).url == url
    assert agent_for("127.0.0.1:8443", fence_dir).url == "https://127.0.0.1:8443/"
    assert agent_for("127.0.0.1", fence_dir).url == "https://127.0.0.1/"
    with pytest.raises(FenceConfigError, match="https"):
        agent_for(url.replace("https://", "http://", 1), fence_dir)


def test_unreachable_outer_dom0_is_not_verified(outer, closed_port_url):
    _table, _url, fence_dir = outer
    result = agent_for(closed_port_url, fence_dir).fence(H1, "stop", after(5))
    assert not result.verified and result.state == "unknown"


def test_hung_outer_dom0_ends_by_the_deadline(outer):
    _table, _url, fence_dir = outer
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    try:
        started = time.monotonic()
        result = agent_for("127.0.0.1:%d" % silent.getsockname()[1], fence_dir).fence(
            H1, "stop", after(1.0))
        assert not result.verified and time.monotonic() - started < 4
    finally:
        silent.close()


@pytest.fixture
def closed_port_url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return "127.0.0.1:%d" % port
