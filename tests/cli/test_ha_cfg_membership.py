"""ha-cfg status shows the membership as this host's copy has it (issue 14): the epoch, the hosts
excluded, a change pending, this host's vote and acknowledgement; in the box and with --json."""
import json

from ha_cfg_run import run_ha_cfg
from halizard.jobs import membership
from halizard.statefiles import StateStore

POOL = (2, 2)


def status(pool, *args):
    return run_ha_cfg(pool, "host1", "status", *args)


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
