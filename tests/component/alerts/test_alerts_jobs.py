"""The alert_spool job sends what the spool holds once the server is back."""
from alerts_smtp_server import mail_config

from halizard.alerts import raise_alert, spool
from halizard.jobs import alert_spool
from halizard.jobs.base import Env, Outcome


def test_alert_spool_job_sends_waiting_mail(smtp_factory, trust, tmp_path):
    root = str(tmp_path / "host")
    server = smtp_factory("starttls")
    config = mail_config(server)
    for text in ("first", "second"):
        raise_alert("vm_mon", text, root=root, config=config, cycles_since_start=3, delivery="spool")
    report = alert_spool.run(Env(root, "alert_spool", config=config))
    result = report.detail
    assert report.outcome is Outcome.DONE and report.text == "sent 2 spooled alert mail(s)"
    assert result.sent == 2 and result.left == 0
    assert [m["message"].get_body(preferencelist=("plain",)).get_content().count(t)
            for m, t in zip(server.received, ("first", "second"))] == [1, 1]


def test_alert_spool_job_keeps_mail_when_off_or_down(tmp_path):
    root = str(tmp_path / "host")
    idle = alert_spool.run(Env(root, "alert_spool", config={}))  # empty spool: nothing to do
    assert (idle.outcome, idle.detail) == (Outcome.IDLE, None)
    raise_alert("vm_mon", "x", root=root, config={}, cycles_since_start=3, delivery="spool")
    off = alert_spool.run(Env(root, "alert_spool", config={"MAIL_ON": "0"}))
    assert off.detail is None and off.text == "MAIL_ON=0: 1 spooled alert mail(s) left unsent"
    report = alert_spool.run(Env(root, "alert_spool", config={"SMTP_PORT": "1"}))
    result = report.detail
    assert report.outcome is Outcome.DEGRADED and "1 alert mail(s) still spooled" in report.text
    assert result.sent == 0 and result.left == 1 and "cannot reach" in result.error
    assert len(spool.entry_names(root)) == 1
