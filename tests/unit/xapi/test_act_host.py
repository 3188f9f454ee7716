"""act_host.execute against a real (in-process) simulated pool: each host-level action, a refusal, a failure."""
import pytest

from halizard.core import actions as A
from halizard.xapi import act_host
from halizard.xapi.session import open_session

import sim_pools as _sim

HEALTH_KEY = "XenCenter.CustomFields.ha-lizard-health"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A root session to the master of a 2-host in-process pool, shared by the module."""
    from sim_pools import assemble

    pool = _sim.InprocPool(assemble(str(tmp_path_factory.mktemp("act_host")), 2, 1, fuse=0.5))
    try:
        s = open_session(pool.host(pool.master_name())["address"], "root", pool.password, 10.0)
        yield s
        s.logout()
    finally:
        pool.close()


def host_uuid(session, name):
    host = session.xenapi.host
    return host.get_uuid(host.get_by_name_label(name)[0])


def test_health_and_autopromote_reach_xapi(session):
    slave = host_uuid(session, "host2")
    ok, detail = act_host.execute(session, A.SetHostHealth("t", slave, "healthy"), HEALTH_KEY)
    assert (ok, detail) == (True, "host %s health set to healthy" % slave)
    host = session.xenapi.host
    assert host.get_other_config(host.get_by_uuid(slave))[HEALTH_KEY] == "healthy"
    ok, detail = act_host.execute(session, A.SetAutopromote("t", slave), HEALTH_KEY)
    assert (ok, detail) == (True, "autopromote set to %s" % slave)
    pool_ref = session.xenapi.pool.get_all()[0]
    assert session.xenapi.pool.get_other_config(pool_ref)[act_host.AUTOPROMOTE_KEY] == slave


def test_a_refused_call_is_reported_not_raised(session):
    live = host_uuid(session, "host2")
    ok, detail = act_host.execute(session, A.ForgetHost("t", live), HEALTH_KEY)
    assert not ok and detail.startswith("ForgetHost failed: HOST_IS_LIVE")


def test_an_action_of_another_layer_is_refused(session):
    with pytest.raises(ValueError, match="cannot execute StartVm"):
        act_host.execute(session, A.StartVm("t", "vm", None), HEALTH_KEY)
