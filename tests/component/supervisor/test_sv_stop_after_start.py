"""`ha-lizard stop` right after `ha-lizard start`: the daemon exits, and no job run outlives it.

Why: a stop that came while the first runs were still being forked (the job
forkserver was still starting) logged "ha-lizard stopped" but the daemon
never exited: a run forked after the stop escaped every kill and the exit
handler waited for it (failed on the old code: `stop` gave up after 20 s).
"""
import os

from sv_helpers import cli, env_for, group_members, process_alive, wait_until

# Many jobs due at once, none with a deadline: a run that escapes the stop would live forever.
HANGERS = {"hang%d" % i: {"target": "sv_testjobs:hang", "period": 5} for i in range(6)}


def test_stop_right_after_start_ends_the_daemon_and_its_runs(root):
    env = env_for(root, HANGERS)
    started = cli(root, "start", "--log-file", os.path.join(root, "daemon.log"), env=env)
    assert started.returncode == 0, started.stderr
    pid = int(started.stdout.split("pid ")[1].rstrip(")\n"))
    stopped = cli(root, "stop", "--timeout", "20", env=env, timeout=40)
    if process_alive(pid):   # the old code: kill it so the test leaves nothing behind
        os.killpg(os.getpgid(pid), 9)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, (stopped.stdout, stopped.stderr)
    assert not process_alive(pid)
    # nothing of any run is left: each run leads its own session, the daemon's group is empty
    wait_until(lambda: not group_members(pid), 10, message="the daemon's process group to be empty")
