"""Scenario harness: a simulated pool with a real `ha-lizard run` per host.

Why: the behaviours of the HA manager only show when real supervisors (one
per simulated host root, as subprocesses) act on a simulated pool through
XAPI. This module starts both, sets the pool configuration, offers wait-until
helpers and the final check every scenario ends with: `sim status --json`
has no violation and every protected VM runs exactly once.

Use in a test module (the `scenario` fixture comes from tests/conftest.py)::

    def test_something(scenario):
        sc = scenario(hosts=3, vms=4, config={"MONITOR_DELAY": 2})
        sc.start_supervisors()
        sc.pool.fault("crash-vm", "vm001")
        sc.wait_vm_running("vm001", 20)
        sc.check_final()

Short parameters by default (the machine is small and shared): MONITOR_DELAY
2, XAPI_COUNT 2, XAPI_DELAY 1, MONITOR_SCANRATE 1, start latency 0.1, fuse 1;
the watchdog backstop on (SELF_FENCE_WATCHDOG 10, the simulated device).

The package holds the host-failure helpers (use_xvm, host_health, wait_moved...) and the
master-failure helpers (masters, wait_master, wait_takeover_slave...) too, all importable
from `harness`; the one `wait_until` is tests/waiting.py's.
"""
from .base import (DEFAULT_CONFIG, HERE, REPO, SHORT_PROBES, TIE_DELAY, WAITING_W, CliPool, ha_cfg_command, ha_lizard_command,
                   stays, wait_until)
from .hosts import (HEALTH_KEY, device_log, health_decision, host_health, use_script, use_xvm, vms_on,
                    wait_decision, wait_moved, wait_self_fence_ready)
from .masters import autopromote, is_suspended, masters, name_of, pool_conf, takeover_phase, wait_master, \
    wait_takeover_slave
from .passwords import TOOLING, assert_no_password_in_clear, files_holding
from .scenario import Scenario, scenario_fixture
from .supervisor import Supervisor

__all__ = [
    "DEFAULT_CONFIG", "HERE", "REPO", "SHORT_PROBES", "TIE_DELAY", "WAITING_W", "CliPool", "ha_cfg_command", "ha_lizard_command", "stays", "wait_until",
    "HEALTH_KEY", "device_log", "health_decision", "host_health", "wait_decision", "use_script", "use_xvm", "vms_on", "wait_moved",
    "wait_self_fence_ready", "autopromote", "is_suspended", "masters", "name_of", "pool_conf",
    "takeover_phase", "wait_master", "wait_takeover_slave", "TOOLING", "assert_no_password_in_clear",
    "files_holding", "Scenario", "scenario_fixture", "Supervisor",
]
