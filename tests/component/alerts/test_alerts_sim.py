"""Alerts against the simulated pool: XAPI messages, ha-cfg show/clear-alerts and email, disk monitor."""
import json
import os
import subprocess
import sys
import time

from alerts_smtp_server import PASSWORD, USER, mail_config

from halizard.alerts import raise_alert, spool
from halizard.alerts.api import INLINE_XAPI_SECONDS
from halizard.jobs import alert_spool, disk_monitor
from halizard.jobs.base import JobContext
from halizard.xapi.session import connect
from waiting import wait_until


def ha_cfg(root, *args):
    script = os.path.join(os.path.dirname(sys.executable), "ha-cfg")
    return subprocess.run([script, "--root", root] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60, check=False)


def messages(pool):
    session = pool.xenapi_session()
    try:
        return list(session.xenapi.message.get_all_records().values())
    finally:
        session.xenapi.session.logout()


def slave(pool):
    master = pool.master_name()
    return next(h for h in pool.hosts if h["name_label"] != master)


def test_alert_becomes_a_xapi_message_on_the_raising_host(sim_hosts):
    host = slave(sim_hosts)
    session = connect(host["root"], timeout=5)  # a slave's root: redirected to the master
    try:
        outcome = raise_alert("fence_host", "could not fence host3", 1, root=host["root"],
                              config={"MAIL_ON": "0"}, session=session)
        again = raise_alert("fence_host", "could not fence host3", 1, root=host["root"],
                            config={"MAIL_ON": "0"}, session=session)
        off = raise_alert("fence_host", "other", root=host["root"], config={"ENABLE_ALERTS": "0"},
                          session=session, delivery="spool", cycles_since_start=5)
    finally:
        session.logout()
    assert (outcome.xapi, outcome.mail, again.xapi, off.xapi) == ("created", "disabled", "screened", "disabled")
    ours = [m for m in messages(sim_hosts) if m["name"].startswith("HA-Lizard - ")]
    assert len(ours) == 1
    assert ours[0]["name"] == "HA-Lizard - fence_host" and ours[0]["priority"] == "1"
    assert ours[0]["cls"] == "Host" and ours[0]["obj_uuid"] == host["uuid"]
    assert ours[0]["body"] == "could not fence host3"


def test_show_and_clear_alerts_through_ha_cfg(sim_hosts):
    root = sim_hosts.hosts[0]["root"]
    session = connect(root, timeout=5)
    try:
        for function, text in (("vm_mon", "VM db failed to start"), ("check_quorum", "no quorum: 1 of 3")):
            assert raise_alert(function, text, root=root, config={"MAIL_ON": "0"}, session=session).xapi == "created"
        pool_uuid = session.call("pool.get_uuid", session.call("pool.get_all")[0])
        session.call("message.create", "OTHER_TOOL", "2", "Pool", pool_uuid, "not ours")
    finally:
        session.logout()

    table = ha_cfg(root, "show-alerts")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["TIME", "(UTC)", "PRIO", "FUNCTION"]
    rows = sorted(lines[1:3])  # both were raised within the same second: XAPI timestamps cannot order them
    assert "check_quorum" in rows[0] and "no quorum: 1 of 3" in rows[0]
    assert "vm_mon" in rows[1] and "VM db failed to start" in rows[1]
    assert all(sim_hosts.hosts[0]["name_label"] in row for row in rows)
    assert lines[3] == "2 alert(s)" and "OTHER_TOOL" not in table.stdout

    shown = json.loads(ha_cfg(root, "show-alerts", "--json").stdout)
    assert sorted((a["function"], a["priority"], a["body"], a["object"]) for a in shown) == [
        ("check_quorum", 3, "no quorum: 1 of 3", sim_hosts.hosts[0]["name_label"]),
        ("vm_mon", 3, "VM db failed to start", sim_hosts.hosts[0]["name_label"])]

    cleared = ha_cfg(root, "clear-alerts")
    assert cleared.returncode == 0 and "Cleared 2" in cleared.stdout
    assert [m["name"] for m in messages(sim_hosts)] == ["OTHER_TOOL"]
    empty = ha_cfg(root, "show-alerts")
    assert empty.returncode == 0 and "No HA-Lizard alerts" in empty.stdout
    assert json.loads(ha_cfg(root, "show-alerts", "--json").stdout) == []


def test_ha_cfg_email_with_the_live_pool_config_and_report(sim_hosts, smtp_factory, trust):
    server = smtp_factory("starttls")
    session = sim_hosts.xenapi_session()
    pool_ref = session.xenapi.pool.get_all()[0]
    for key, value in (("HA_SMTP_SERVER", "127.0.0.1"), ("HA_SMTP_PORT", str(server.port)), ("HA_SMTP_USER", USER),
                       ("HA_SMTP_PASS", PASSWORD), ("HA_MAIL_TO", "ops@localhost:dev@localhost"),
                       ("HA_MAIL_SUBJECT", "HA-ALERT:$HOSTNAME")):
        session.xenapi.pool.add_to_other_config(pool_ref, key, value)
    session.xenapi.session.logout()
    host = slave(sim_hosts)
    result = ha_cfg(host["root"], "email")
    assert result.returncode == 0, result.stderr
    got = server.received[0]
    assert sorted(got["rcpt_tos"]) == ["dev@localhost", "ops@localhost"]
    assert got["message"]["Subject"] == "HA-ALERT:%s" % host["name_label"]  # $HOSTNAME: the simulated host's name
    plain = got["message"].get_body(preferencelist=("plain",)).get_content()
    for other in sim_hosts.hosts:  # the live pool report lists every host
        assert other["name_label"] in plain


def test_disk_monitor_alerts_on_a_failing_disk(sim_hosts, smtp_factory, trust):
    server = smtp_factory("starttls")
    host = slave(sim_hosts)
    config = mail_config(server)
    healthy = disk_monitor.run(JobContext(host["root"], "disk_monitor", config=config))
    assert healthy.healthy and server.received == [] and spool.entry_names(host["root"]) == []

    sim_hosts.fault("disk-fail", host["name_label"])
    failed = disk_monitor.run(JobContext(host["root"], "disk_monitor", config=config))
    assert not failed.healthy
    ours = [m for m in messages(sim_hosts) if m["name"] == "HA-Lizard - disk_monitor"]
    assert len(ours) == 1 and ours[0]["obj_uuid"] == host["uuid"] and "FAILED" in ours[0]["body"]

    end = time.monotonic() + 20
    while not server.received and time.monotonic() < end:
        time.sleep(0.05)
    assert len(server.received) == 1
    assert "Disk health check FAILED" in server.received[0]["message"].get_body(
        preferencelist=("plain",)).get_content()

    assert disk_monitor.run(JobContext(host["root"], "disk_monitor", config=dict(config, DISK_MONITOR="0"))) is None


def test_alert_without_session_is_posted_by_the_worker(sim_hosts):
    host = slave(sim_hosts)
    outcome = raise_alert("check_slave_status", "raised without a session", root=host["root"],
                          config={"MAIL_ON": "0"})
    assert outcome.xapi == "queued" and outcome.worker_pid
    assert wait_until(lambda: any(m["name"] == "HA-Lizard - check_slave_status" for m in messages(sim_hosts)), timeout=20)
    posted = [m for m in messages(sim_hosts) if m["name"] == "HA-Lizard - check_slave_status"]
    assert len(posted) == 1 and posted[0]["obj_uuid"] == host["uuid"] and posted[0]["body"] == "raised without a session"
    assert wait_until(lambda: spool.entry_names(host["root"], spool.XAPI) == [], timeout=20)


def test_xapi_message_waits_while_the_master_is_cut_off(sim_hosts):
    host = slave(sim_hosts)
    others = ",".join(h["name_label"] for h in sim_hosts.hosts if h["name_label"] != host["name_label"])
    sim_hosts.fault("partition", host["name_label"], others)
    outcome = raise_alert("promote_slave", "master unreachable", root=host["root"], config={"MAIL_ON": "0"},
                          delivery="spool")
    assert outcome.xapi == "queued"
    started = time.monotonic()
    kept = spool.flush_messages(host["root"], deadline_seconds=15)
    assert kept.sent == 0 and kept.left == 1 and kept.error.startswith("no XAPI session")
    assert time.monotonic() - started < 15
    sim_hosts.fault("heal")
    alert_spool.run(JobContext(host["root"], "alert_spool", config={"MAIL_ON": "0"}))
    assert spool.entry_names(host["root"], spool.XAPI) == []
    assert [m["body"] for m in messages(sim_hosts) if m["name"] == "HA-Lizard - promote_slave"] == \
        ["master unreachable"]


def test_hung_master_costs_the_caller_at_most_a_few_seconds(sim_hosts):
    host = slave(sim_hosts)
    session = connect(host["root"], timeout=10)
    try:
        sim_hosts.fault("hang-xapi", sim_hosts.master_name())
        started = time.monotonic()
        outcome = raise_alert("check_xapi", "master xapi hung", root=host["root"], config={"MAIL_ON": "0"},
                              session=session, delivery="spool")
        took = time.monotonic() - started
    finally:
        sim_hosts.fault("unhang-xapi", sim_hosts.master_name())
        session.logout()
    # INLINE_XAPI_SECONDS bounds the call: the session layer sends a request once, and its deadline
    # covers the whole exchange (no re-send after the cut); the rest is spooling and slack
    assert outcome.xapi == "queued" and took < INLINE_XAPI_SECONDS + 1.5
    alert_spool.run(JobContext(host["root"], "alert_spool", config={"MAIL_ON": "0"}))
    assert [m["body"] for m in messages(sim_hosts) if m["name"] == "HA-Lizard - check_xapi"] == ["master xapi hung"]
