"""The watchdog devices behind halizard.platform: the real one only as far as it can be without a
device (missing path, the dom0 guard), the simulated one whole: a real device process talking to a
real control endpoint whose pool only records the reboots it is asked for."""
import threading
import time

import pytest

from halizard.platform import PlatformError, get_platform
from halizard.platform import xen
from halizard.platform.simdog import SimWatchdog
from halizard.sim.control import start_control


class RebootRecorder:
    """The simulator's pool as the control endpoint sees it: only reboot_host is used here."""

    def __init__(self):
        self.reboots = []
        self.changed = threading.Event()

    def reboot_host(self, host_uuid):
        self.reboots.append((host_uuid, time.monotonic()))
        self.changed.set()


@pytest.fixture
def endpoint():
    pool = RebootRecorder()
    server = start_control(pool, "127.0.0.1", 0)
    yield pool, server.url
    server.close()


def test_a_missing_device_is_one_clear_error(tmp_path):
    with pytest.raises(PlatformError, match="no watchdog device .*softdog"):
        xen.DeviceWatchdog(str(tmp_path / "watchdog"), 10)


def test_the_real_watchdog_is_never_armed_off_a_dom0(tmp_path):
    with pytest.raises(PlatformError, match="not the root of a Xen dom0"):
        get_platform(str(tmp_path)).open_watchdog(10)


def test_a_fed_device_waits_and_a_starved_one_reboots_the_host(tmp_path, endpoint):
    pool, url = endpoint
    dog = SimWatchdog(url, "host-1", 1.0, str(tmp_path))
    try:
        for _ in range(8):   # 2 s of feeding, twice its timeout
            dog.feed()
            time.sleep(0.25)
        assert pool.reboots == []
        starved = time.monotonic()
        assert pool.changed.wait(5), "the starved device rebooted the host"
        assert pool.reboots[0][0] == "host-1" and pool.reboots[0][1] - starved < 2.5
    finally:
        dog.disarm()


def test_a_disarmed_device_never_fires(tmp_path, endpoint):
    pool, url = endpoint
    SimWatchdog(url, "host-1", 0.5, str(tmp_path)).disarm()
    assert not pool.changed.wait(1.5)


def test_an_unexpected_close_keeps_it_counting(tmp_path, endpoint):
    # as /dev/watchdog: a service that dies without the magic close still gets its host rebooted
    pool, url = endpoint
    dog = SimWatchdog(url, "host-1", 0.5, str(tmp_path))
    dog._proc.stdin.close()
    assert pool.changed.wait(5)
    dog._end()


def test_a_second_open_is_busy(tmp_path, endpoint):
    _pool, url = endpoint
    first = SimWatchdog(url, "host-1", 30, str(tmp_path))
    try:
        with pytest.raises(PlatformError, match="busy"):
            SimWatchdog(url, "host-1", 30, str(tmp_path))
    finally:
        first.disarm()
