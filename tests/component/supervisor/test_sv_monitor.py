"""The old monitor semantics per job: no overlap, SCANRATE re-checks, MAX_STARTS and KILLALL."""
import os

from sv_helpers import evidence, group_members, jobs, wait_until


def _explicit(**values):
    """Sub-second monitor values go in as explicit settings (the config schema takes whole seconds)."""
    args = []
    for key, value in values.items():
        args += ["--set", "%s=%s" % (key, value)]
    return args


def test_runs_never_overlap_and_busy_job_is_rechecked(root, service):
    svc = service({"slow": {"target": "sv_testjobs:slow", "period": 0.3}},
                  extra_args=_explicit(MONITOR_SCANRATE=0.2, MONITOR_MAX_STARTS=1000))
    wait_until(lambda: len([e for e in evidence(root, "slow") if e["event"] == "end"]) >= 3, 20,
               message="three complete slow runs")
    events = evidence(root, "slow")
    runs = {}
    for event in events:
        runs.setdefault(event["pid"], {})[event["event"]] = event["t"]
    spans = sorted((r["start"], r.get("end", float("inf"))) for r in runs.values())
    for (_s1, e1), (s2, _e2) in zip(spans, spans[1:]):
        assert s2 >= e1, "runs overlap: %s" % spans
    # the next run starts within about one SCANRATE of the previous end, not a whole period later
    gaps = [s2 - e1 for (_s1, e1), (s2, _e2) in zip(spans, spans[1:]) if e1 != float("inf")]
    assert max(gaps) < 3.0, gaps
    assert "still running after check" in svc.log()


def test_max_starts_alerts_and_killall_kills_the_hung_run(root, service):
    svc = service({"hang": {"target": "sv_testjobs:hang", "period": 0.5, "grace": 0.5}},
                  extra_args=_explicit(MONITOR_SCANRATE=0.3, MONITOR_MAX_STARTS=3, MONITOR_KILLALL=1))

    def killed():
        last = jobs(root, svc.env)["hang"]["last"]
        return last if last and last["outcome"] == "killed" else None

    last = wait_until(killed, 30, message="the hung run to be killed")
    assert "MONITOR_MAX_STARTS" in last["reason"]
    # period 0.5 + 3 re-checks of 0.3 s: killed after about 1.4 s, surely not before 0.9 s
    assert 0.9 <= last["duration"] <= 15.0, last
    assert group_members(last["pid"]) == []
    log = svc.log()
    assert "still running after 3 checks (MONITOR_MAX_STARTS); killing it (MONITOR_KILLALL=1)" in log
    # the next cycle starts again after the kill
    wait_until(lambda: len(evidence(root, "hang")) >= 2, 30, message="a new run after the kill")
    # the alert went to this host's alert layer, under this root (never the machine's real /var/lib)
    wait_until(lambda: _alert_under(root, "MONITOR_MAX_STARTS"), 30, message="the alert recorded under the root")


def _alert_under(root, needle):
    """True when some file the alerts layer wrote under `root`'s state dir mentions `needle`."""
    for directory, _dirs, names in os.walk(os.path.join(root, "var", "lib", "ha-lizard", "alert-spool")):
        for name in names:
            with open(os.path.join(directory, name), errors="replace") as handle:
                if needle in handle.read():
                    return True
    return False


def test_max_starts_without_killall_only_alerts(root, service):
    svc = service({"hang": {"target": "sv_testjobs:hang", "period": 0.3}},
                  extra_args=_explicit(MONITOR_SCANRATE=0.2, MONITOR_MAX_STARTS=2, MONITOR_KILLALL=0))
    wait_until(lambda: "leaving it running (MONITOR_KILLALL=0)" in svc.log(), 30, message="the alert")
    first = wait_until(lambda: evidence(root, "hang"), 30, message="the run's own note")[0]
    wait_until(lambda: jobs(root, svc.env)["hang"]["busy_checks"] >= 5, 30, message="more re-checks")
    job = jobs(root, svc.env)["hang"]
    assert job["state"] == "running" and job["pid"] == first["pid"]
    assert job["last"] is None
    decisions = [line for line in svc.log().splitlines()
                 if "monitor: job hang" in line and "(MONITOR_MAX_STARTS)" in line]
    assert len(decisions) == 1, "one alert per hung run: %s" % decisions
