"""`ha-lizard` argument handling and exit statuses that need no running service."""
import pytest

from halizard.cli import ha_lizard


def test_no_command_is_a_usage_error(capsys):
    assert ha_lizard.main([]) == 2
    assert "a command is required" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["bogus"], ["run", "--set", "NOEQUALS"], ["jobs", "kill"], ["jobs"],
                                  ["stop", "--timeout", "soon"]])
def test_bad_arguments_exit_2(argv, tmp_path, capsys):
    assert ha_lizard.main(["--root", str(tmp_path)] + argv) == 2
    assert capsys.readouterr().err.startswith("ha-lizard: ")


def test_status_when_not_running_is_3(tmp_path, capsys):
    assert ha_lizard.main(["--root", str(tmp_path), "status"]) == 3
    assert "not running" in capsys.readouterr().out


def test_jobs_when_not_running_is_1(tmp_path, capsys):
    assert ha_lizard.main(["--root", str(tmp_path), "jobs", "list"]) == 1
    assert "not running" in capsys.readouterr().err


def test_stop_when_not_running_is_0(tmp_path, capsys):
    assert ha_lizard.main(["--root", str(tmp_path), "stop"]) == 0


def test_sim_is_found_after_global_options():
    assert ha_lizard._split_sim(["sim", "up"]) == (None, ["up"])
    assert ha_lizard._split_sim(["--root", "/r", "sim", "status", "--json"]) == ("/r", ["status", "--json"])
    assert ha_lizard._split_sim(["--root=/r", "sim"]) == ("/r", [])
    assert ha_lizard._split_sim(["status"]) is None


def test_sim_is_delegated(monkeypatch):
    import halizard.sim.cli as sim_cli

    seen = []
    monkeypatch.setattr(sim_cli, "main", lambda argv: seen.append(argv) or 0)
    assert ha_lizard.main(["sim", "status", "--dir", "x"]) == 0
    assert seen == [["status", "--dir", "x"]]


@pytest.mark.parametrize("argv", [["status"], ["jobs", "list"]])
def test_client_commands_do_not_load_the_service_machinery(argv, tmp_path):
    """`status` and `jobs` only talk to the control socket: no loguru, APScheduler or multiprocess."""
    import subprocess
    import sys

    code = ("import sys; from halizard.cli import ha_lizard; ha_lizard.main(%r); "
            "print('LOADED:' + ' '.join(m for m in ('loguru', 'apscheduler', 'multiprocess') if m in sys.modules))"
            % (["--root", str(tmp_path)] + argv))
    result = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert "LOADED:\n" in result.stdout, result.stdout
