"""ha-cfg status shows the membership as this host's copy has it (issue 14): the epoch, the hosts
excluded, a change pending, this host's vote and acknowledgement; in the box and with --json."""
import io
import json

import pytest

from halizard.cli import ha_cfg
from halizard.jobs import membership
from halizard.statefiles import StateStore

import sim_pools as sim_fixtures


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    handle = sim_fixtures.CliPool(tmp_path_factory.mktemp("hacfg-membership"))
    handle.up(2, 2, 0.05, 0.5, [])
    yield handle
    handle.down()


def status(pool, *args):
    out, err = io.StringIO(), io.StringIO()
    code = ha_cfg.main(["--root", pool.host("host1")["root"], "status"] + list(args), stdin=io.StringIO(""),
                       stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_status_shows_the_membership(pool):
    host1, host2 = pool.host("host1"), pool.host("host2")
    code, out, _err = status(pool, "--json")
    assert code == 0 and json.loads(out)["membership"] is None  # the service never read one here
    store = StateStore(host1["root"])
    store.write("service-start", {"started": 1.0, "pid": 1})
    store.write("pool-view", {"hosts": [{"uuid": host1["uuid"], "name_label": "host1", "membership_ack": "4"},
                                        {"uuid": host2["uuid"], "name_label": "host2", "membership_ack": "3"}]})
    membership.record(store, "4 %s joint -" % host2["uuid"])
    code, out, _err = status(pool, "--json")
    shown = json.loads(out)["membership"]
    assert code == 0 and shown["epoch"] == 4 and shown["excluded"] == ["host2"] and shown["pending"]
    assert shown["votes"] and shown["acknowledged"] == 4
    code, out, _err = status(pool)
    line = next(line for line in out.splitlines() if "Membership:" in line)
    assert "epoch 4" in line and "host2" in line and "not yet acknowledged" in line and "this host votes" in line
