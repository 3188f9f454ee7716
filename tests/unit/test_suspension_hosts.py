"""halizard.suspension: the host-record key the master reads, and the master-conflict flag."""
import json
import os

from halizard.suspension import HOST_KEY, MASTER_CONFLICT, is_suspended, suspended_hosts


def test_suspended_hosts_reads_the_key_from_host_records():
    records = {
        "OpaqueRef:a": {"uuid": "a", "other_config": {HOST_KEY: "true"}},
        "OpaqueRef:b": {"uuid": "b", "other_config": {HOST_KEY: "false"}},
        "OpaqueRef:c": {"uuid": "c", "other_config": {}},
        "OpaqueRef:d": {"uuid": "d", "other_config": {HOST_KEY: " TRUE "}},
        "OpaqueRef:e": {"uuid": "e"},
    }
    assert suspended_hosts(records) == {"a", "d"}
    assert suspended_hosts(list(records.values())) == {"a", "d"}
    assert suspended_hosts({}) == frozenset()


def test_master_conflict_flag_suspends_vm_starts(tmp_path):
    root = str(tmp_path)
    assert not is_suspended(root)
    state = os.path.join(root, "var", "lib", "ha-lizard")
    os.makedirs(state)
    with open(os.path.join(state, MASTER_CONFLICT + ".json"), "w") as handle:
        json.dump({"suspended": True, "by": "master_cycle", "why": "test"}, handle)
    assert is_suspended(root)
