"""The watchdog backstop feeds the device only while the service is healthy and the self-fence beats;
a missing or busy device is one ERROR line and an alert, and the service does not count as armed.

The device is a recording stand-in for the platform's (test_watchdog_devices.py covers the devices)."""
import pytest
from loguru import logger

from halizard.jobs import beat
from halizard.platform.base import PlatformError, Watchdog
from halizard.probes import clock
from halizard.supervisor import watchdog


class RecordingDevice(Watchdog):
    def __init__(self, timeout):
        self.timeout, self.feeds, self.disarmed = timeout, 0, False

    def feed(self):
        self.feeds += 1

    def disarm(self):
        self.disarmed = True


class Platform:
    def __init__(self, problem=None):
        self.problem, self.devices = problem, []

    def open_watchdog(self, timeout):
        if self.problem:
            raise PlatformError(self.problem)
        self.devices.append(RecordingDevice(timeout))
        return self.devices[-1]


@pytest.fixture
def lines():
    seen = []
    sink = logger.add(lambda m: seen.append(str(m).strip()), format="{level} {message}", level="DEBUG")
    yield seen
    logger.remove(sink)


def _backstop(root, platform, alerts):
    return watchdog.Backstop(root, platform_factory=lambda _root: platform, alert=alerts.append)


def test_off_by_default_nothing_is_armed(tmp_path):
    platform, alerts = Platform(), []
    backstop = _backstop(str(tmp_path), platform, alerts)
    backstop.configure(0)
    assert not backstop.armed and platform.devices == [] and backstop.interval() is None


def test_fed_only_while_healthy_and_the_self_fence_beats(tmp_path, lines):
    root = str(tmp_path)
    platform, alerts = Platform(), []
    backstop = _backstop(root, platform, alerts)
    backstop.configure(8)
    device = platform.devices[0]
    assert backstop.armed and device.timeout == 8 and backstop.interval() == 2.0
    assert backstop.feed(True), "no beat yet: the start grace feeds it"
    beat.write_beat(root, clock.now() + 5)
    assert backstop.feed(True) and device.feeds == 2
    assert not backstop.feed(False), "an unhealthy supervisor starves it"
    beat.write_beat(root, clock.now() - 0.1)
    assert not backstop.feed(True), "a self-fence that stopped beating starves it"
    assert not backstop.feed(True)
    assert sum("watchdog not fed" in line and line.startswith("ERROR") for line in lines) == 1
    beat.write_beat(root, clock.now() + 5)
    assert backstop.feed(True) and device.feeds == 3
    backstop.configure(0)
    assert device.disarmed and not backstop.armed


def test_a_beat_of_an_earlier_instance_does_not_count(tmp_path):
    root = str(tmp_path)
    beat.write_beat(root, clock.now() + 3600)
    platform = Platform()
    backstop = _backstop(root, platform, [])
    backstop.configure(8)
    assert beat.read_beat(root) is None


@pytest.mark.parametrize("problem", ["no watchdog device /dev/watchdog (load softdog or xen_wdt)",
                                     "watchdog device /dev/watchdog is busy (another watchdog daemon holds it)"])
def test_a_missing_or_busy_device_is_said_once_alerted_and_not_armed(tmp_path, lines, problem):
    alerts = []
    backstop = _backstop(str(tmp_path), Platform(problem), alerts)
    backstop.configure(10)
    backstop.configure(10)   # a reload with the same value says nothing again
    errors = [line for line in lines if line.startswith("ERROR")]
    assert len(errors) == 1 and "NOT armed" in errors[0] and problem in errors[0]
    assert alerts == [backstop.problem] and not backstop.armed
    assert backstop.interval() is None and not backstop.feed(True)


def test_a_timeout_below_the_minimum_is_not_armed(tmp_path, lines):
    platform, alerts = Platform(), []
    backstop = _backstop(str(tmp_path), platform, alerts)
    backstop.configure(3)
    assert not backstop.armed and platform.devices == [] and len(alerts) == 1 and "below 5" in alerts[0]
