"""`ha-cfg status` shows the health of a really running ha-lizard service (control socket)."""
import io
import json
import os
import subprocess
import sys

import pytest

from halizard.cli import ha_cfg

from waiting import wait_until


@pytest.fixture
def pool(sim_pool):
    """A pool of its own: the test runs the service on it."""
    return sim_pool(2, 1)


def status_json(root):
    out, err = io.StringIO(), io.StringIO()
    assert ha_cfg.main(["--root", root, "status", "--json"], stdout=out, stderr=err) == 0, err.getvalue()
    return json.loads(out.getvalue())


def ha_lizard(root, *args, env):
    script = os.path.join(os.path.dirname(sys.executable), "ha-lizard")
    return subprocess.run([script, "--root", root] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60, env=env, check=False)


def test_status_reports_the_running_service(pool, tmp_path):
    root = pool.host("host2")["root"]
    assert status_json(root)["service"] == {"running": False}
    jobs = tmp_path / "jobs.json"
    jobs.write_text('{"replace": true, "jobs": {}}')
    env = dict(os.environ, HALIZARD_JOBS=str(jobs))
    env.pop("HALIZARD_ROOT", None)
    started = ha_lizard(root, "start", env=env)
    assert started.returncode == 0, started.stderr
    try:
        service = wait_until(lambda: status_json(root)["service"].get("pid") and status_json(root)["service"], 20)
        assert service["running"] is True and service["jobs"] == []
        out, err = io.StringIO(), io.StringIO()
        ha_cfg.main(["--root", root, "status"], stdout=out, stderr=err)
        assert "Daemon Status:     running (pid %d" % service["pid"] in out.getvalue()
    finally:
        stopped = ha_lizard(root, "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    wait_until(lambda: status_json(root)["service"] == {"running": False}, 20)
