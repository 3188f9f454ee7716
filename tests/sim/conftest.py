"""Fixtures for simulated pools, shared by every test that needs one.

`sim_pool(...)`: a real background pool started by the real CLI
(`ha-lizard sim up`) in a temporary directory, always brought down at teardown.
`inproc_pool(...)`: the same endpoints in this process (no CLI, faster), for
semantics tests. Both hand out XenAPI sessions with a deadline, optionally
bound to a simulated host's address (so the call comes "from" that host).
Small latencies by default: start_latency 0.05 s, fuse 0.5 s. The pool handles
themselves live in sim_pools.py (importable without pytest).
"""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # also loaded by path from tests elsewhere
    sys.path.insert(0, HERE)

from sim_pools import CLI_TIMEOUT, CliPool, InprocPool, ha_lizard_command, run_sim  # noqa: E402,F401


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
