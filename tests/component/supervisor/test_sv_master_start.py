"""A service that starts on a host whose pool.conf says master holds VM starts until a master cycle.

Why: an old master booting after a takeover still believes it is master; its VM jobs must not start
anything before the master cycle has checked that no other host answers as master.
"""
import json
import os

import pytest

from halizard.suspension import is_suspended

TICK = {"tick": {"target": "sv_testjobs:tick", "period": 0.5}}
# the hold is taken only when a master cycle runs to lift it; this one never confirms anything
WITH_CYCLE = {"tick": {"target": "sv_testjobs:tick", "period": 0.5},
              "master_cycle": {"target": "sv_testjobs:tick", "period": 30}}


def write_pool_conf(root, text):
    folder = os.path.join(root, "etc", "xensource")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "pool.conf"), "w") as handle:
        handle.write(text)


def conflict_file(root):
    return os.path.join(root, "var", "lib", "ha-lizard", "master-conflict.json")


def test_a_master_starts_with_its_vm_starts_held(root, service):
    write_pool_conf(root, "master")
    service(WITH_CYCLE)
    with open(conflict_file(root)) as handle:
        held = json.load(handle)
    assert held["suspended"] is True and held["by"] == "service start"
    assert is_suspended(root)


@pytest.mark.parametrize("pool_conf", ["slave:127.0.0.1", None])
def test_a_slave_or_an_unknown_role_holds_nothing(root, service, pool_conf):
    if pool_conf is not None:
        write_pool_conf(root, pool_conf)
    service(WITH_CYCLE)
    assert not os.path.exists(conflict_file(root))


def test_without_a_master_cycle_job_nothing_is_held(root, service):
    write_pool_conf(root, "master")
    service(TICK)
    assert not os.path.exists(conflict_file(root))
