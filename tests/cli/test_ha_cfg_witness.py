"""ha-cfg and the witness parameters: the secret is never shown, bad or unsafe values are refused
with one line and leave the pool's keys unchanged."""
from ha_cfg_run import pool_other_config, run_ha_cfg

from halizard.core import timing
from halizard.core.policy import Policy

POOL = (2, 2)


def run(pool, *args, stdin=""):
    return run_ha_cfg(pool, "host1", *args, stdin=stdin)


def ha_keys(pool):
    return {k: v for k, v in pool_other_config(pool).items() if k.startswith("HA_")}


def test_witness_secret_is_never_shown(pool, tmp_path):
    status, out, _err = run(pool, "set", "witness_secret", "-", stdin="w1tness-s3cret\n")
    assert status == 0 and "w1tness" not in out
    assert "w1tness-s3cret" in ha_keys(pool)["HA_WITNESS_SECRET"]
    for args in (["get"], ["get", "-l"], ["get", "--json"], ["get", "--effective"], ["status", "--json"]):
        status, out, err = run(pool, *args)
        assert "w1tness" not in out + err, args
    backup = tmp_path / "plain.cfg"
    assert run(pool, "backup", str(backup))[0] == 0
    assert "w1tness" not in backup.read_text() and "WITNESS_SECRET" in backup.read_text()


def test_bad_address_and_unsafe_lease_are_refused_with_one_line(pool):
    assert run(pool, "set", "witness_address", "127.0.0.1:5405")[0] == 0
    before = ha_keys(pool)
    status, _out, err = run(pool, "set", "witness_address", "no-port-here")
    assert status != 0 and len(err.strip().splitlines()) == 1 and "host:port" in err
    # the automatic self-fence wait pays for any lease; a fixed one that pays for the default lease of 4
    # does not pay for 30
    with_witness = Policy(WITNESS_ADDRESS="127.0.0.1:5405")
    wait = int(timing.minimum_wait(with_witness) + timing.witness_delay(with_witness)) + 1
    assert run(pool, "set", "self_fence_wait", str(wait))[0] == 0
    before = ha_keys(pool)
    status, _out, err = run(pool, "set", "witness_lease", "30")
    assert status != 0 and len(err.strip().splitlines()) == 1 and "WITNESS_LEASE=30" in err
    assert ha_keys(pool) == before
    assert run(pool, "set", "witness_lease", "3")[0] == 0
    assert ha_keys(pool)["HA_WITNESS_LEASE"] == "3"
    assert run(pool, "set", "self_fence_wait", "0")[0] == 0
