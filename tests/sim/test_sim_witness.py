"""`sim up --witness`: the real witness service as a node of the simulated world."""
import time

import pytest

from halizard.probes import witness as client
from halizard.probes.deadline import after

from sim_pools import cli_pool_for_module


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    yield from cli_pool_for_module(tmp_path_factory.mktemp("sim-witness"), 2, 1, ["--witness"])


def ask(pool, host, lease=1.0):
    entry = pool.json["witness"]
    witness = client.Witness("%s:%d" % (entry["address"], entry["port"]), entry["secret"].encode("ascii"),
                             source=pool.host(host)["address"])
    return client.ask(witness, "pool", host, lease, after(1.0))


def wait_vote(pool, host, seconds=15.0):
    limit = time.monotonic() + seconds
    while time.monotonic() < limit:
        vote = ask(pool, host)
        if vote.held_until is not None:
            return vote
        time.sleep(0.1)
    return vote


def test_pool_json_status_and_help(pool):
    entry = pool.json["witness"]
    assert entry["address"].endswith(".200") and entry["port"] == 5405 and len(entry["secret"]) == 32
    status = pool.status()
    assert status["witness"] == {"address": entry["address"], "power": "on", "link": "up"}
    assert "--witness" in pool.run("up", "--help").stdout
    assert "witness" in pool.run("--help").stdout


def test_partition_power_and_restart(pool):
    pool.fault("heal")
    first = wait_vote(pool, "host1")
    assert first.held_until is not None
    assert ask(pool, "host2").held_until is None  # leased to host1
    pool.fault("partition", "host1", "host2,witness")
    try:
        cut = ask(pool, "host1")
        assert cut.held_until is None and not cut.answered  # the witness is out of host1's reach
        assert wait_vote(pool, "host2").held_until is not None
        assert time.monotonic() >= first.held_until + 1.0  # only after host1's lease plus the margin (1 s)
    finally:
        pool.fault("heal")
    assert ask(pool, "host1").held_until is None  # host2 holds it now
    pool.fault("power-off", "witness")
    off = ask(pool, "host2")
    assert off.held_until is None and not off.answered
    pool.fault("power-on", "witness")
    # restarted from its state file: host2 (recorded) renews at once, host1 waits out the hold
    assert ask(pool, "host2").held_until is not None
    assert ask(pool, "host1").held_until is None


def test_witness_fault_usage_errors(pool):
    result = pool.run("fault", "hang-xapi", "witness")
    assert result.returncode == 2 and "does not apply to the witness" in result.stderr
