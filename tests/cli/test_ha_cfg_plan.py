"""`ha-cfg plan` and the status line against a simulated pool read through the local socket."""
import json

from ha_cfg_run import run_ha_cfg as run
from halizard.cli import ha_cfg

POOL = (3, 6)


def resident(pool):
    session = pool.xenapi_session()
    try:
        x = session.xenapi
        names = {ref: rec["name_label"] for ref, rec in x.host.get_all_records().items()}
        return {rec["name_label"]: names.get(rec["resident_on"]) for rec in x.VM.get_all_records().values()
                if not rec["is_a_template"] and not rec["is_control_domain"] and rec["power_state"] == "Running"}
    finally:
        session.xenapi.session.logout()


def test_plan_for_a_failed_host_restarts_its_vms_elsewhere(pool):
    on = resident(pool)
    victims = sorted(vm for vm, host in on.items() if host == "host2")
    assert victims, on
    status, out, err = run(pool, "host3", "plan", "--fail", "host2", "--json")
    assert status == 0, err
    report = json.loads(out)
    assert report["failed"] == ["host2"]
    starts = {s["vm"]: s["host"] for g in report["groups"] for s in g["starts"]}
    assert sorted(starts) == victims
    assert set(starts.values()) <= {"host1", "host3"}
    assert report["tolerance"] == {"failures": 2, "exact": True, "fits_now": True, "worst": [], "required": 1}
    status, text, _err = run(pool, "host1", "plan", "--fail", "host2")
    assert status == 0 and "If host2 failed:" in text and "Pool tolerance: 2 host failures (required 1)" in text


def test_unknown_host_is_one_line_and_non_zero(pool):
    status, out, err = run(pool, "host1", "plan", "--fail", "host9")
    assert status == 1 and out == ""
    assert err.strip().count("\n") == 0 and "host9" in err


def test_status_shows_the_tolerance(pool):
    status, out, _err = run(pool, "host1", "status")
    assert status == 0
    assert "Failure Tolerance: 2 host failures (required 1)" in out
    status, out, _err = run(pool, "host1", "status", "--json")
    assert json.loads(out)["failure_tolerance"]["failures"] == 2


def test_tolerance_below_required_alerts_once_and_is_stored(pool):
    from loguru import logger

    from halizard.ops import whatif
    from halizard.statefiles import StateStore

    assert run(pool, "host1", "set", "FAILURES_TO_TOLERATE", "3")[0] == 0
    root = pool.host("host1")["root"]
    try:
        for _ in range(2):  # the second check is screened: still one alert
            ctx = ha_cfg.Context(root)
            try:
                value = whatif.check(root, ctx.session(), ctx.config(), StateStore(root), logger, 0.0)
            finally:
                ctx.close()
        assert value["failures"] == 2 and value["required"] == 3
        assert StateStore(root).read(whatif.TOLERANCE_STATE, {})["required"] == 3
        status, out, _err = run(pool, "host1", "show-alerts", "--json")
        alerts = [a for a in json.loads(out) if "failure_tolerance" in json.dumps(a)]
        assert len(alerts) == 1, alerts
        assert "TOO LOW" in run(pool, "host1", "status")[1]
    finally:
        assert run(pool, "host1", "set", "FAILURES_TO_TOLERATE", "1")[0] == 0
