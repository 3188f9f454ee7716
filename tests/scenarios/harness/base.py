"""Where the harness finds the repository, the simulator's pool handles and the one wait_until.

Why: the benchmarks import the harness from a venv without pytest, with only tests/scenarios on
sys.path; tests/ (waiting.py) and tests/sim (sim_pools.py) are reached from here.
"""
import importlib.util
import os
import sys

PACKAGE = os.path.dirname(os.path.abspath(__file__))
HERE = os.path.dirname(PACKAGE)  # tests/scenarios: on the supervisors' PYTHONPATH
TESTS = os.path.dirname(HERE)
REPO = os.path.dirname(TESTS)
if TESTS not in sys.path:
    sys.path.append(TESTS)

from waiting import stays, wait_until  # noqa: E402,F401  (the suite's one wait_until)

DEFAULT_CONFIG = {
    # 3 s, not 2: no derived time changes (a probe round, 11 s, is longer) and the pools fork a third fewer
    # job runs, in a suite whose whole run is bound by the machine's CPU (docs/testing.md)
    "MONITOR_DELAY": 3,
    "MONITOR_SCANRATE": 1,
    "XAPI_COUNT": 2,
    "XAPI_DELAY": 1,
    "XE_TIMEOUT": 5,
    # the simulated watchdog device backs every service up (docs/timing.md): the self-fence wait then
    # counts its 10 s instead of the systemd unit's 67 s restart, as before the unit's values were counted
    "SELF_FENCE_WATCHDOG": 10,
}

# The heuristic tie-break's fence delay of these pools (core tie_fence_delay: XE_TIMEOUT + MONITOR_DELAY).
TIE_DELAY = DEFAULT_CONFIG["XE_TIMEOUT"] + DEFAULT_CONFIG["MONITOR_DELAY"]

# Short probes: a self-fence wait W (docs/timing.md) of 43 s, 58 s with a witness, instead of 86 s.
SHORT_PROBES = {"XE_TIMEOUT": 2, "MGT_LINK_LOSS_TOLERANCE": 2, "SELF_FENCE_STOP_TIMEOUT": 3}
# For a pool that spends most of its life waiting W out: a 4-s cycle changes no derived time (a probe round,
# 5 s with SHORT_PROBES, is longer) and halves the job runs: 38% less CPU for these scenarios, in a suite
# whose whole run is bound by the machine's CPU (docs/testing.md).
WAITING_W = dict(SHORT_PROBES, MONITOR_DELAY=4)



def _load_sim_pools():
    """The simulator's CLI pool handle lives in tests/sim/sim_pools.py; load it under a unique name."""
    path = os.path.join(REPO, "tests", "sim", "sim_pools.py")
    spec = importlib.util.spec_from_file_location("scenario_sim_pools", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


POOLS = _load_sim_pools()
CliPool = POOLS.CliPool

def ha_lizard_command():
    """How the harness runs `ha-lizard` (the RPM test patches harness.base to run the package's launcher)."""
    return [sys.executable, "-m", "halizard.cli.ha_lizard"]


def ha_cfg_command():
    return [sys.executable, "-m", "halizard.cli.ha_cfg"]
