"""Alerts inside the real service (`ha-lizard run`): quiet start, screening, the alert_spool job."""
import json
import os
import signal
import subprocess
import sys

from alerts_smtp_server import PASSWORD, USER
from waiting import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))


def outcomes(root):
    try:
        with open(os.path.join(root, "evidence-alerts.jsonl")) as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []


def test_service_quiet_start_then_one_mail_via_the_alert_spool_job(smtp_factory, trust, tmp_path):
    server = smtp_factory("starttls")
    root = str(tmp_path / "host")
    conf = os.path.join(root, "etc", "ha-lizard", "ha-lizard.conf")
    os.makedirs(os.path.dirname(conf))
    with open(conf, "w") as handle:
        handle.write("MONITOR_DELAY=3\nSMTP_SERVER=127.0.0.1\nSMTP_PORT=%d\nSMTP_USER=%s\nSMTP_PASS=%s\n"
                     "MAIL_TO=svc@localhost\nENABLE_ALERTS=0\n" % (server.port, USER, PASSWORD))
    jobs = {"raiser": {"target": "alerts_service_jobs:raise_each_cycle", "period": 0.5, "deadline": 20},
            "alert_spool": {"target": "halizard.jobs.alert_spool:run", "period": 0.5, "deadline": 20}}
    jobs_file = os.path.join(str(tmp_path), "jobs.json")
    with open(jobs_file, "w") as handle:
        json.dump({"replace": True, "jobs": jobs}, handle)
    env = dict(os.environ, HALIZARD_JOBS=jobs_file, PYTHONPATH=os.pathsep.join([HERE, os.environ.get(
        "PYTHONPATH", "")]))
    env.pop("HALIZARD_ROOT", None)
    env.pop("NOTIFY_SOCKET", None)
    log = open(os.path.join(str(tmp_path), "service.out"), "w")
    service = subprocess.Popen([sys.executable, "-m", "halizard.cli.ha_lizard", "--root", root, "run"],
                               env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        # the first runs fall in the first two cycles (2 x MONITOR_DELAY s): logged, not mailed
        assert wait_until(lambda: len(outcomes(root)) >= 1, 30), open(log.name).read()
        assert outcomes(root)[0]["mail"] == "quiet-start"
        # then exactly one mail; later runs are screened (same text within MAIL_SCREEN_TIME)
        assert wait_until(lambda: len(server.received) == 1, 30), (outcomes(root), open(log.name).read())
        assert wait_until(lambda: outcomes(root)[-1]["mail"] == "screened", 15)
        states = [o["mail"] for o in outcomes(root)]
        assert states.count("spooled") == 1 and set(states) == {"quiet-start", "spooled", "screened"}
        assert states.index("spooled") > states.index("quiet-start")
        assert server.received[0]["rcpt_tos"] == ["svc@localhost"]
        assert all(o["xapi"] == "disabled" for o in outcomes(root))
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(25)
        except subprocess.TimeoutExpired:
            os.killpg(service.pid, signal.SIGKILL)
            service.wait(5)
        log.close()
    assert len(server.received) == 1
    # the password never reaches logs, alert state or the spool (the config layer's own 0600 copies
    # of the configuration, override-last-good.json and pool-config.json, are its business)
    config_copies = {conf, os.path.join(root, "var/lib/ha-lizard/override-last-good.json"),
                     os.path.join(root, "var/lib/ha-lizard/pool-config.json")}
    for directory, _dirs, files in os.walk(str(tmp_path)):
        for name in files:
            path = os.path.join(directory, name)
            if path not in config_copies:
                with open(path, "rb") as handle:
                    assert PASSWORD.encode() not in handle.read(), path
