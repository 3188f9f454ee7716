"""recover_fenced_host: a warning, then <enter> (or --yes) lifts the suspension; nothing else does."""
import io
import os
import subprocess
import sys

from halizard import suspension
from halizard.cli.recover_fenced_host import main
from halizard.core import takeover as core
from halizard.jobs import takeover
from halizard.statefiles import StateStore

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "etc", "ha-lizard", "scripts", "recover_fenced_host")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def suspended_root(tmp_path):
    store = StateStore(str(tmp_path))
    takeover.suspend(store, "the fence of the master failed")
    takeover.save_state(store, core.TakeoverState(phase=core.SUSPENDED, master_uuid="m"))
    store.write(takeover.REBOOTED, {"at": 1.0})
    return store


def run(root, *args, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    status = main(["--root", root] + list(args), stdin=stdin or io.StringIO(""), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_not_suspended_is_nothing_to_do(tmp_path):
    status, out, _err = run(str(tmp_path), "--yes")
    assert status == 0 and "not suspended" in out


def test_enter_on_a_terminal_lifts_the_suspension_and_the_finished_takeover(tmp_path):
    store = suspended_root(tmp_path)
    status, out, _err = run(str(tmp_path), stdin=Terminal("\n"))
    assert status == 0
    assert out.startswith("WARNING") and "<enter>" in out and "removed" in out
    assert not suspension.takeover_suspended(store)
    assert takeover.load_state(store).phase == core.IDLE
    assert store.read(takeover.REBOOTED) is None  # a later suspension may reboot once again


def test_no_terminal_without_yes_changes_nothing(tmp_path):
    store = suspended_root(tmp_path)
    status, _out, err = run(str(tmp_path))
    assert status == 2 and "--yes" in err and len(err.strip().splitlines()) == 1
    assert suspension.takeover_suspended(store)
    assert takeover.load_state(store).phase == core.SUSPENDED


def test_end_of_input_at_the_prompt_keeps_the_suspension(tmp_path):
    store = suspended_root(tmp_path)
    status, _out, err = run(str(tmp_path), stdin=Terminal(""))
    assert status == 1 and "stays" in err
    assert suspension.takeover_suspended(store)


def test_unknown_option_is_a_usage_error(tmp_path):
    status, _out, _err = run(str(tmp_path), "--force")
    assert status == 2


def test_the_guide_script_runs_the_same_code(tmp_path):
    store = suspended_root(tmp_path)
    env = dict(os.environ, HALIZARD_PYTHON=sys.executable, PYTHONPATH=REPO)
    done = subprocess.run([SCRIPT, "--root", str(tmp_path), "--yes"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert "removed" in done.stdout
    assert not suspension.takeover_suspended(store)
