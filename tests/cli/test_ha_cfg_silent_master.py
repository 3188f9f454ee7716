"""A silent master (hung xapi, powered off) gives a clear message within XE_TIMEOUT,
never a hang, and nothing is half-written."""
import os
import subprocess
import sys
import time

import pytest

from ha_cfg_run import pool_other_config as keys
from ha_cfg_run import run_ha_cfg as run

XE_TIMEOUT = 2


@pytest.fixture
def pool(sim_pool):
    """A pool of its own for each test: each one hangs, powers off or cuts off the master."""
    return sim_pool(3, 2)


def ha_cli(pool, host, *args):
    script = os.path.join(os.path.dirname(sys.executable), "ha-cfg")
    started = time.monotonic()
    result = subprocess.run([script, "--root", pool.host(host)["root"]] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=60, check=False)
    return result, time.monotonic() - started


def prepare(pool):
    """Insert defaults with a short XE_TIMEOUT; every host reads (and caches) it once."""
    assert run(pool, "host1", "insert")[0] == 0
    assert run(pool, "host1", "set", "xe_timeout", str(XE_TIMEOUT))[0] == 0
    for host in ("host1", "host2", "host3"):
        assert run(pool, host, "get", "-l", "xe_timeout")[1] == "XE_TIMEOUT=%d\n" % XE_TIMEOUT


def test_hung_master_answers_within_xe_timeout(pool):
    prepare(pool)
    before = keys(pool)
    pool.fault("hang-xapi", "host1")
    try:
        for host in ("host2", "host1"):
            result, elapsed = ha_cli(pool, host, "get")
            assert result.returncode == 3
            assert "did not answer within %gs" % XE_TIMEOUT in result.stderr
            assert len(result.stderr.strip().splitlines()) == 1
            assert elapsed < XE_TIMEOUT + 4, elapsed
        result, elapsed = ha_cli(pool, "host2", "set", "monitor_delay", "45")
        assert result.returncode == 3 and elapsed < XE_TIMEOUT + 4
        result, elapsed = ha_cli(pool, "host3", "status")
        assert result.returncode == 3 and elapsed < XE_TIMEOUT + 6
        assert "Pool HA Status: UNKNOWN" in result.stdout
        assert "Host Role:         slave" in result.stdout
    finally:
        pool.fault("unhang-xapi", "host1")
    assert keys(pool) == before


def test_powered_off_master_is_unreachable_quickly(pool):
    prepare(pool)
    pool.fault("power-off", "host1")
    result, elapsed = ha_cli(pool, "host2", "ha-status")
    assert result.returncode == 3
    assert "pool master" in result.stderr
    assert elapsed < XE_TIMEOUT + 4


def test_partitioned_slave_cannot_reach_the_master(pool):
    """Connections leave from the host's own address, so a partition applies to its tools."""
    prepare(pool)
    pool.fault("partition", "host1,host2", "host3")
    result, elapsed = ha_cli(pool, "host3", "get")
    assert result.returncode == 3 and elapsed < XE_TIMEOUT + 4
    assert ha_cli(pool, "host2", "get", "-l", "xe_timeout")[0].returncode == 0
    pool.fault("heal")
    assert ha_cli(pool, "host3", "get", "-l", "xe_timeout")[0].returncode == 0
