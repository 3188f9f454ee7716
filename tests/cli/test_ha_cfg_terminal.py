"""The old tool's interactive prompts on a real terminal (a pseudo-terminal here):
status offers the HA toggle, restore-default asks, `set` of MONITOR_* offers a reload."""
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from ha_cfg_run import pool_other_config, run_ha_cfg

POOL = (2, 1)
pytestmark = pytest.mark.usefixtures("inserted")  # every test here starts from the inserted defaults
FIELD = "XenCenter.CustomFields.ha-lizard-enabled"


def on_terminal(pool, host, args, answer, prompt_fragment, timeout=30.0):
    """Run ha-cfg on a pseudo-terminal, answer once the prompt shows; returns (status, output)."""
    master, slave = pty.openpty()
    script = os.path.join(os.path.dirname(sys.executable), "ha-cfg")
    proc = subprocess.Popen([script, "--root", pool.host(host)["root"]] + args, stdin=slave, stdout=slave,
                            stderr=slave, close_fds=True)
    os.close(slave)
    output = b""
    answered = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _w, _x = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
            if not answered and prompt_fragment.encode() in output:
                os.write(master, (answer + "\n").encode())
                answered = True
            if proc.poll() is not None and not ready:
                break
        status = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert answered, output.decode(errors="replace")
    return status, output.decode(errors="replace")


def field(pool):
    return pool_other_config(pool).get(FIELD)


def test_status_toggle_on_a_terminal(pool):
    assert field(pool) == "false"
    status, out = on_terminal(pool, "host2", ["status"], "yes", "Enable?")
    assert status == 0, out
    assert field(pool) == "true"
    status, out = on_terminal(pool, "host2", ["status"], "", "Disable?")
    assert status == 0 and field(pool) == "true"


def test_restore_default_asks_on_a_terminal(pool):
    run_ha_cfg(pool, "host1", "set", "xapi_count", "7")
    status, text = on_terminal(pool, "host1", ["restore-default"], "n", "Are you sure")
    assert status == 0 and "Nothing changed" in text
    status, text = on_terminal(pool, "host1", ["restore-default"], "y", "Are you sure")
    assert status == 0, text
    assert run_ha_cfg(pool, "host1", "get", "-l", "xapi_count")[1] == "XAPI_COUNT=2\n"


def test_monitor_change_offers_a_reload(pool):
    status, text = on_terminal(pool, "host2", ["set", "monitor_scanrate", "12"], "", "Reload the ha-lizard")
    assert status == 0
    assert "Not reloading now" in text
