"""The pool_state job against a simulated pool: cache refreshed, kept when XAPI hangs."""
import json
import os
import subprocess
import sys

import pytest

from sv_helpers import jobs, wait_until


def _sim(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "halizard.cli.ha_lizard", "sim"] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout)


@pytest.fixture
def pool(tmp_path_factory):
    # a short path: the service's control socket under the host root must fit AF_UNIX's ~107 bytes,
    # and pytest-xdist puts popen-gwN/ in front of the test's own tmp_path
    directory = str(tmp_path_factory.mktemp("svpool") / "p")
    up = _sim("up", "--hosts", "2", "--vms", "2", "--dir", directory)
    assert up.returncode == 0, up.stderr
    with open(os.path.join(directory, "pool.json")) as handle:
        described = json.load(handle)
    yield directory, described
    _sim("down", "--dir", directory)


def _view(root):
    try:
        with open(os.path.join(root, "var", "lib", "ha-lizard", "pool-view.json")) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def test_pool_view_is_cached_and_kept_while_xapi_hangs(pool, service):
    directory, described = pool
    master = described["hosts"][0]
    root = master["root"]
    svc = service({"pool_state": {"target": "halizard.jobs.pool_state:run", "period": 0.5, "deadline": 3}},
                  root=root, extra_args=["--set", "MONITOR_SCANRATE=0.5"])
    view = wait_until(lambda: _view(root), 30, message="the first pool view")
    assert sorted(h["name_label"] for h in view["hosts"]) == sorted(h["name_label"] for h in described["hosts"])
    assert view["master"] == master["uuid"]
    assert len(view["vms"]) == 2

    assert _sim("fault", "--dir", directory, "hang-xapi", master["name_label"]).returncode == 0
    last = wait_until(lambda: (jobs(root, svc.env)["pool_state"]["last"] or {}).get("outcome") in
                      ("error", "timed_out") and jobs(root, svc.env)["pool_state"]["last"], 20,
                      message="a failed refresh")
    assert last["duration"] <= 10
    kept = _view(root)
    assert kept is not None and kept["hosts"] == view["hosts"]
    assert "keeping the cached one" in svc.log() or last["outcome"] == "timed_out"
    assert _sim("fault", "--dir", directory, "unhang-xapi", master["name_label"]).returncode == 0
    wait_until(lambda: (_view(root) or {}).get("observed", 0) > kept["observed"], 20,
               message="refreshes again after XAPI recovers")


def _sim_count(directory, host, method):
    """How many `method` calls host `host`'s xapi answered (the simulator's counter)."""
    status = _sim("status", "--json", "--dir", directory)
    assert status.returncode == 0, status.stderr
    return json.loads(status.stdout)["calls"][host].get(method, 0)


def _finished(root, env, names):
    return sum((jobs(root, env)[name].get("counts") or {}).get("ok", 0) for name in names)


def test_the_runs_share_the_service_login_and_it_logs_out_when_stopped(pool, service):
    """One login for every run of the service (halizard.xapi.shared_login): before, each run logged in
    and out once or twice, and on a slave each of those is a write to the master's database."""
    directory, described = pool
    host, root = described["hosts"][1]["name_label"], described["hosts"][1]["root"]   # a slave
    names = ("pool_state", "autoselect")
    svc = service({name: {"target": "halizard.jobs.%s:run" % name, "period": 0.5, "deadline": 5} for name in names},
                  root=root, extra_args=["--set", "MONITOR_SCANRATE=0.5"])

    def logins():
        return _sim_count(directory, host, "session.login_with_password")

    mark = []

    def two_runs_without_a_login():   # the service's own login is made by then, however slow the machine
        now = (_finished(root, svc.env, names), logins())
        if not mark or now[1] != mark[0][1]:
            mark[:] = [now]
            return False
        return now[0] >= mark[0][0] + 2

    wait_until(two_runs_without_a_login, 60, interval=0.2, message="two runs without a login")
    before = (logins(), _sim_count(directory, host, "session.logout"))
    done = _finished(root, svc.env, names)
    wait_until(lambda: _finished(root, svc.env, names) >= done + 8, 30, message="eight more runs")
    assert (logins(), _sim_count(directory, host, "session.logout")) == before, "the runs logged in or out themselves"
    svc.stop()
    assert _sim_count(directory, host, "session.logout") == before[1] + 1, "the service logs its login out when it stops"
