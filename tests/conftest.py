"""The suite's shared fixtures: simulated pools and scenarios, for every test under tests/.

`sim_cli`: run `ha-lizard sim ARGS...` (CompletedProcess).
`sim_pool(...)`: a real background pool started by the real CLI (`ha-lizard sim up`) in a
temporary directory, always brought down at teardown.
`inproc_pool(...)`: the same endpoints in this process (no CLI, faster), for semantics tests.
Both hand out XenAPI sessions with a deadline, optionally bound to a simulated host's address (so
the call comes "from" that host). Small latencies by default: start_latency 0.05 s, fuse 0.5 s.
`scenario(...)`: a simulated pool with a real supervisor per host (tests/scenarios/harness).

The pool handles live in tests/sim/sim_pools.py and the one `wait_until` in tests/waiting.py:
both importable without pytest (the benchmarks use them); this file puts their folders on sys.path.
"""
import os
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
for _folder in (os.path.join(TESTS, "scenarios"), os.path.join(TESTS, "sim"), TESTS):
    if _folder not in sys.path:
        sys.path.insert(0, _folder)

import harness  # noqa: E402
from sim_pools import CliPool, InprocPool, run_sim  # noqa: E402

scenario = harness.scenario_fixture()


def pytest_collection_modifyitems(items):
    """Tests marked `slow` first, each group in its collected order: with `--dist load --maxschedchunk 1`
    (the Makefile) the workers take them first, and the short ones fill in at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def sim_cli():
    """run_sim: `sim_cli("status", "--dir", d)` runs `ha-lizard sim status --dir d` (CompletedProcess)."""
    return run_sim


@pytest.fixture
def sim_pool(tmp_path_factory):
    """Factory: sim_pool(hosts=3, vms=4, start_latency=0.05, fuse=0.5, extra=()) -> CliPool (up)."""
    started = []

    def start(hosts=3, vms=4, start_latency=0.05, fuse=0.5, extra=()):
        handle = CliPool(tmp_path_factory.mktemp("simpool"))
        started.append(handle)
        return handle.up(hosts, vms, start_latency, fuse, list(extra))

    yield start
    for handle in started:
        handle.down()


@pytest.fixture
def inproc_pool(tmp_path_factory):
    """Factory: inproc_pool(hosts=3, vms=4, start_latency=0.05, fuse=0.5) -> InprocPool (listening)."""
    from halizard.sim.daemon import assemble

    started = []

    def start(hosts=3, vms=4, start_latency=0.05, fuse=0.5):
        running = assemble(str(tmp_path_factory.mktemp("inproc")), hosts, vms,
                           start_latency=start_latency, fuse=fuse)
        handle = InprocPool(running)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.close()
