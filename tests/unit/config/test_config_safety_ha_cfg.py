"""ha-cfg refuses a pool change that breaks the self-fencing timing rule (one line, exit 1, pool
unchanged); the service's configuration load reports an unsafe pool and hands out no Policy."""

import pytest
from loguru import logger

from ha_cfg_run import pool_other_config as other_config
from ha_cfg_run import run_ha_cfg as run
from halizard.config import effective
from halizard.xapi import pool_config

import sim_pools as sim_fixtures


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """One in-process pool for the module (a pool's teardown takes seconds)."""
    from halizard.sim.daemon import assemble

    handle = sim_fixtures.InprocPool(assemble(str(tmp_path_factory.mktemp("safety")), 2, 1,
                                              start_latency=0.05, fuse=0.5))
    yield handle
    handle.close()


def test_set_that_makes_timing_unsafe_is_refused(pool):
    before = other_config(pool)
    status, _out, err = run(pool, "host2", "set", "self_fence_wait", "100")
    assert status == 1
    assert len(err.strip().splitlines()) == 1, err
    assert "refused: SELF_FENCE_WAIT=100 would make the configuration unsafe" in err
    assert "set it above 172" in err
    assert other_config(pool) == before

    status, _out, err = run(pool, "host2", "set", "self_fence_wait", "200")
    assert status == 0, err
    assert other_config(pool)["HA_SELF_FENCE_WAIT"] == "200"
    # a slower probe would make that wait too short: refused as well
    before = other_config(pool)
    status, _out, err = run(pool, "host1", "set", "xe_timeout", "30")
    assert status == 1 and "XE_TIMEOUT=30" in err and "SELF_FENCE_WAIT=200" in err
    assert other_config(pool) == before


def test_restore_that_makes_timing_unsafe_restores_nothing(pool, tmp_path):
    backup = tmp_path / "unsafe.cfg"
    backup.write_text("MONITOR_DELAY=20\nSELF_FENCE_WAIT=50\n")
    before = other_config(pool)
    status, _out, err = run(pool, "host1", "restore", str(backup))
    assert status == 1 and "nothing restored" in err and "SELF_FENCE_WAIT=50" in err
    assert other_config(pool) == before


def test_unsafe_pool_written_behind_ha_cfg_is_refused_when_the_service_loads_it(pool):
    session = pool.xenapi_session()
    try:
        ref = session.xenapi.pool.get_all()[0]
        session.xenapi.pool.remove_from_other_config(ref, "HA_SELF_FENCE_WAIT")
        session.xenapi.pool.add_to_other_config(ref, "HA_SELF_FENCE_WAIT", "60")
    finally:
        session.xenapi.session.logout()
    lines = []
    sink = logger.add(lambda message: lines.append(str(message)), level="ERROR")
    try:
        config = pool_config.load_effective(pool.host("host2")["root"], cache=False)
    finally:
        logger.remove(sink)
    assert config.pool_status == "live"
    assert "SELF_FENCE_WAIT=60" in config.unsafe
    with pytest.raises(effective.UnsafeConfig):
        config.policy()
    assert any("HA will not act" in line and "SELF_FENCE_WAIT=60" in line for line in lines)
    # ha-cfg still works on such a pool (to repair it) and warns
    status, _out, err = run(pool, "host1", "set", "monitor_delay", "20")
    assert status == 0 and "unsafe" in err
    status, _out, err = run(pool, "host1", "set", "self_fence_wait", "0")
    assert status == 0 and "unsafe" not in err
