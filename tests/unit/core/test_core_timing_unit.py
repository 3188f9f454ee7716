"""The timing budget counts the service restart with the values the installed unit really has."""
import os
import re

from halizard.core import timing
from halizard.core.policy import Policy

INIT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                    "init")


def _unit_seconds(name):
    with open(os.path.join(INIT, "ha-lizard.service"), encoding="utf-8") as handle:
        values = re.findall(r"^%s=(\d+)s?\s*$" % name, handle.read(), re.M)
    assert len(values) == 1, "%s set once in init/ha-lizard.service" % name
    return float(values[0])


def test_the_budget_uses_the_unit_values():
    # failed before: 10 s were assumed while the unit allows 30 + 30 + 2 s before a hung service runs again
    assert timing.UNIT_WATCHDOG_SEC == _unit_seconds("WatchdogSec")
    assert timing.UNIT_TIMEOUT_STOP_SEC == _unit_seconds("TimeoutStopSec")
    assert timing.UNIT_RESTART_SEC == _unit_seconds("RestartSec")
    with open(os.path.join(INIT, "ha-lizard-watchdog"), encoding="utf-8") as handle:
        interval = re.search(r"^WATCH_INTERVAL=\$\{WATCH_INTERVAL:-(\d+)\}", handle.read(), re.M)
    assert interval and timing.SYSV_WATCH_INTERVAL == float(interval.group(1))
    hung = _unit_seconds("WatchdogSec") + _unit_seconds("TimeoutStopSec") + _unit_seconds("RestartSec")
    assert timing.service_allowance(Policy()) >= hung + timing.SERVICE_START
    assert timing.self_fence_deadline(Policy()) >= 60 + hung + 30 + timing.REBOOT_ALLOWANCE


def test_the_watchdog_backstop_bounds_a_frozen_service_by_its_timeout():
    on = Policy(SELF_FENCE_WATCHDOG=20)
    # the device fires its timeout after the last feed; the job is fed for one beat window after its last check
    window = timing.beat_window(on)
    assert window > on.SELF_FENCE_CHECK_INTERVAL + timing.self_fence_check_bound(on, listing=True)
    assert timing.service_allowance(on) == 20 + window
    assert timing.recovery_wait(on) == timing.recovery_wait(Policy()) - (timing.SERVICE_RESTART_ALLOWANCE - 20 - window)
    assert timing.service_allowance(Policy(SELF_FENCE_WATCHDOG=600)) == timing.SERVICE_RESTART_ALLOWANCE
