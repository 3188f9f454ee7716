"""The simulated pool each tests/cli module runs ha-cfg against, set up in this one place.

A module names the pool it needs: `POOL = (hosts, vms)`, or with `ha-lizard sim up` options
after them (`POOL = (3, 2, "--bmcs")`). `pool` is that pool, started once for the module and
brought down after its last test; `inserted` is the same pool with the defaults stored
(`ha-cfg insert` on host1). A test that breaks its pool (hangs or powers off the master, starts
the service) takes a pool of its own from the suite's `sim_pool` factory (tests/conftest.py).
"""
import pytest

from ha_cfg_run import run_ha_cfg
from sim_pools import CliPool


@pytest.fixture(scope="module")
def pool(request, tmp_path_factory):
    hosts, vms = request.module.POOL[:2]
    handle = CliPool(tmp_path_factory.mktemp(request.module.__name__.replace("test_", "")))
    handle.up(hosts, vms, 0.05, 0.5, list(request.module.POOL[2:]))
    try:
        yield handle
    finally:
        handle.down()


@pytest.fixture(scope="module")
def inserted(pool):
    """The module's pool with the defaults inserted once."""
    status, _out, err = run_ha_cfg(pool, "host1", "insert")
    assert status == 0, err
    return pool
