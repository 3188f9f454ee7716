"""raise_alert end to end: spool, detached worker, real SMTP server, screening, quiet start, outage."""
import json
import os
import socket
import stat
import time

import pytest
from alerts_smtp_server import PASSWORD, mail_config

from halizard.alerts import raise_alert, spool
from halizard.alerts.api import alert_suspended_host
from halizard.alerts.settings import mail_settings
from waiting import stays, wait_until


@pytest.fixture
def root(tmp_path):
    return str(tmp_path / "host")


def test_alert_is_delivered_by_the_detached_worker(smtp_factory, trust, root):
    server = smtp_factory("starttls")
    os.makedirs(os.path.join(root, "var/lib/ha-lizard"))
    with open(os.path.join(root, "var/lib/ha-lizard/status-report.json"), "w") as handle:
        json.dump({"pool": "pool-1", "hosts": [{"name": "h1", "address": "127.0.0.1", "role": "master",
                                                "health": "master"}], "vms": [{"name": "web", "power_state":
                                                                               "Running", "host": "h1"}]}, handle)
    outcome = raise_alert("fence_host", "host h2 fenced by POOL", root=root, config=mail_config(server),
                          cycles_since_start=5, hostname="dom0-a")
    assert outcome.mail == "spooled" and outcome.worker_pid
    assert outcome.xapi == "queued"  # no session: the worker posts it (this bare root has no credentials)
    assert wait_until(lambda: len(server.received) == 1, timeout=20)
    message = server.received[0]["message"]
    assert message["Subject"] == "SYSTEM_ALERT-FROM_HOST:dom0-a"
    plain = message.get_body(preferencelist=("plain",)).get_content()
    assert "host h2 fenced by POOL" in plain and "pool-1" in plain and "web" in plain
    assert wait_until(lambda: spool.entry_names(root) == [], timeout=20)


def test_raise_returns_at_once_when_the_server_never_answers(root):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    try:
        config = {"SMTP_SERVER": "127.0.0.1", "SMTP_PORT": str(listener.getsockname()[1])}
        started = time.monotonic()
        outcome = raise_alert("vm_mon", "vm x failed", root=root, config=config, cycles_since_start=9)
        assert time.monotonic() - started < 2.0
        assert outcome.mail == "spooled"
        assert len(spool.entry_names(root)) == 1
    finally:
        listener.close()


def test_same_text_is_screened_other_text_is_not(root):
    config = {"MAIL_SCREEN_TIME": "1"}
    first = raise_alert("check_xapi", "xapi down on h2", root=root, config=config, cycles_since_start=3,
                        delivery="spool", now=1000.0)
    again = raise_alert("check_xapi", "xapi down on h2", root=root, config=config, cycles_since_start=3,
                        delivery="spool", now=1030.0)
    other = raise_alert("check_xapi", "xapi down on h3", root=root, config=config, cycles_since_start=3,
                        delivery="spool", now=1031.0)
    later = raise_alert("check_xapi", "xapi down on h2", root=root, config=config, cycles_since_start=3,
                        delivery="spool", now=1061.0)
    assert [first.mail, again.mail, other.mail, later.mail] == ["spooled", "screened", "spooled", "spooled"]
    assert len(spool.entry_names(root)) == 3


def test_suspended_host_realerts_hourly_even_with_a_long_screen_time(root):
    config = {"MAIL_SCREEN_TIME": "1440"}
    outcomes = [alert_suspended_host("h3", root=root, config=config, cycles_since_start=3, delivery="spool",
                                     now=t).mail for t in (0.0, 1800.0, 3599.0, 3601.0, 5000.0, 7202.0)]
    assert outcomes == ["spooled", "screened", "screened", "spooled", "screened", "spooled"]


def test_switches(root):
    def mail_of(config):
        return raise_alert("fence_host", "t %s" % sorted(config.items()), root=root, config=config,
                           cycles_since_start=3, delivery="spool").mail
    assert mail_of({"MAIL_ON": "0"}) == "disabled"
    assert mail_of({"MAIL_fence_host": "0"}) == "disabled"
    assert mail_of({"MAIL_vm_mon": "0"}) == "spooled"
    assert raise_alert("vm_mon", "x", root=root, config={"ENABLE_ALERTS": "0"}, session=object(),
                       cycles_since_start=3, delivery="spool").xapi == "disabled"
    assert raise_alert("vm_mon", "x", root=root, config={"PRIORITY_vm_mon": "1"}, cycles_since_start=3,
                       delivery="spool").priority == 1
    assert raise_alert("vm_mon", "y", 9, root=root, config={}, cycles_since_start=3,
                       delivery="spool").priority == 5
    with pytest.raises(ValueError):
        raise_alert("bad name\nX", "x", root=root, config={})


def test_no_mail_in_the_first_two_cycles_after_service_start(root):
    config = {"MONITOR_DELAY": "15"}
    assert raise_alert("vm_mon", "a", root=root, config=config, cycles_since_start=1, delivery="spool").mail \
        == "quiet-start"
    # what the supervisor leaves on disk: its pid file, written when it started
    run_dir = os.path.join(root, "run/ha-lizard")
    os.makedirs(run_dir)
    pid_file = os.path.join(run_dir, "ha-lizard.pid")
    with open(pid_file, "w") as handle:
        handle.write("%d\n" % os.getpid())
    now = time.time()
    os.utime(pid_file, (now - 20, now - 20))  # one cycle ago
    assert raise_alert("vm_mon", "b", root=root, config=config, delivery="spool").mail == "quiet-start"
    os.utime(pid_file, (now - 31, now - 31))  # two cycles done
    assert raise_alert("vm_mon", "b", root=root, config=config, delivery="spool").mail == "spooled"
    # the quiet start did not use up the screening: "a" still goes out once the start is over
    assert raise_alert("vm_mon", "a", root=root, config=config, delivery="spool").mail == "spooled"


def test_spool_files_are_private_and_hold_no_password(root):
    raise_alert("vm_mon", "x", root=root, config={"SMTP_PASS": PASSWORD}, cycles_since_start=3, delivery="spool")
    directory = spool.spool_dir(root)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if name.endswith(spool.SUFFIX):
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            with open(path) as handle:
                assert PASSWORD not in handle.read()


def test_outage_keeps_mail_spooled_and_it_goes_out_when_the_server_returns(smtp_factory, trust, root):
    server = smtp_factory("starttls")
    port = server.port
    server.stop()  # the server is down
    config = mail_config(server)
    outcome = raise_alert("promote_slave", "slave h2 promoted", root=root, config=config, cycles_since_start=3)
    assert outcome.mail == "spooled"
    assert wait_until(lambda: any(e["attempts"] >= 1 for e in spool.pending(root)), timeout=20)
    assert spool.pending(root)[0]["last_error"].startswith("cannot reach SMTP server")
    raise_alert("vm_mon", "vm db restarted", root=root, config=config, cycles_since_start=3, delivery="spool")

    back = smtp_factory("starttls", port=port)  # the server returns on the same port
    result = spool.flush(root, mail_settings(config), deadline_seconds=20)
    assert result.sent == 2 and result.left == 0 and not result.error
    subjects = [item["message"].get_body(preferencelist=("plain",)).get_content() for item in back.received]
    assert "slave h2 promoted" in subjects[0] and "vm db restarted" in subjects[1]  # oldest first


def test_corrupt_spool_entry_is_set_aside(smtp_factory, trust, root):
    server = smtp_factory("starttls")
    raise_alert("vm_mon", "good", root=root, config=mail_config(server), cycles_since_start=3, delivery="spool")
    with open(os.path.join(spool.spool_dir(root), "00000000000000000001-bad" + spool.SUFFIX), "w") as handle:
        handle.write("{not json")
    result = spool.flush(root, mail_settings(mail_config(server)), deadline_seconds=20)
    assert result.sent == 1 and result.left == 0
    assert any(name.endswith(".bad") for name in os.listdir(spool.spool_dir(root)))


def test_a_burst_of_alerts_is_delivered_once_each(smtp_factory, trust, root):
    server = smtp_factory("starttls")
    config = mail_config(server)
    texts = ["vm %d failed" % n for n in range(8)]
    outcomes = [raise_alert("vm_mon", text, root=root, config=config, cycles_since_start=3) for text in texts]
    assert all(outcome.mail == "spooled" for outcome in outcomes)
    assert wait_until(lambda: len(server.received) >= len(texts) and spool.entry_names(root) == [], timeout=30)
    # a straggling worker must not deliver anything twice
    stays(lambda: len(server.received) == len(texts), 0.5, interval=0.05, message="each alert once")
    bodies = [item["message"].get_body(preferencelist=("plain",)).get_content() for item in server.received]
    assert sorted(next(t for t in texts if t in body) for body in bodies) == sorted(texts)


def test_without_config_the_cached_pool_configuration_is_used_offline(smtp_factory, trust, root):
    from halizard.config import effective

    server = smtp_factory("starttls")
    effective.save_pool_cache(root, "00000000-0000-0000-0000-000000000002", {
        "HA_SMTP_SERVER": "127.0.0.1", "HA_SMTP_PORT": str(server.port), "HA_SMTP_USER": "alerts",
        "HA_SMTP_PASS": PASSWORD, "HA_MAIL_TO": "cached@localhost"})
    started = time.monotonic()
    outcome = raise_alert("monitor", "job vm_monitor hung", 2, root=root, cycles_since_start=4)
    assert time.monotonic() - started < 2.0
    assert outcome.mail == "spooled" and outcome.priority == 2
    assert wait_until(lambda: len(server.received) == 1, timeout=20)
    assert server.received[0]["rcpt_tos"] == ["cached@localhost"]
