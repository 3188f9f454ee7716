"""Bad input to `ha-lizard sim`: one line on stderr, exit 2 for usage, 1 for failures, nothing changed."""
import os

import pytest


def one_line(text):
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_help_describes_every_command(sim_cli):
    result = sim_cli("--help")
    assert result.returncode == 0
    for word in ("up", "fault", "status", "down", "power-off", "partition", "heal", "crash-vm", "outer"):
        assert word in result.stdout
    fault_help = sim_cli("fault", "--help")
    assert fault_help.returncode == 0 and "hang-xapi" in fault_help.stdout


@pytest.mark.parametrize("args, fragment", [
    (["up", "--hosts", "0"], "--hosts"),
    (["up", "--hosts", "many"], "not an integer"),
    (["up", "--vms", "-3"], "negative"),
    (["up", "--start-latency", "soon"], "seconds"),
    (["frobnicate"], "invalid choice"),
    ([], "usage"),
])
def test_bad_arguments_exit_2(sim_cli, tmp_path, args, fragment):
    if args[:1] == ["up"]:
        args = args + ["--dir", str(tmp_path / "pool")]
    result = sim_cli(*args)
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr
    if args[:1] == ["up"]:
        assert not os.path.exists(str(tmp_path / "pool" / "pool.json"))


def test_commands_without_a_pool_fail_with_exit_1(sim_cli, tmp_path):
    for args in (["status"], ["status", "--json"], ["fault", "heal"]):
        result = sim_cli(*args + ["--dir", str(tmp_path)])
        assert result.returncode == 1
        assert "no simulated pool running" in one_line(result.stderr)
    assert sim_cli("down", "--dir", str(tmp_path)).returncode == 0


def test_bad_faults_exit_2_and_change_nothing(sim_pool):
    pool = sim_pool(hosts=2, vms=2)
    before = pool.status()
    cases = [
        (["fault", "explode", "host1"], "unknown action"),
        (["fault", "power-off", "host9"], "unknown host"),
        (["fault", "power-off", "host1", "nohost"], "unknown host"),
        (["fault", "crash-vm", "vm999"], "unknown VM"),
        (["fault", "power-off"], "at least one host"),
        (["fault", "crash-vm"], "at least one VM"),
        (["fault", "partition", "host1"], "two groups"),
        (["fault", "partition", "host1", "host2,ghost"], "unknown host"),
        (["fault", "heal", "host1"], "takes no target"),
    ]
    for args, fragment in cases:
        result = pool.run(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert fragment in one_line(result.stderr), (args, result.stderr)
    assert pool.status() == before, "a refused fault must change nothing (not even half of a multi-host one)"
