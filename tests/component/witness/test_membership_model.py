"""The Promela model of membership exclusion and re-admission (halizard/witness/membership.pml), checked
exhaustively by spin within its stated bound (5 hosts, 4 faults, master crashes included): "safe", and
"live" (built with LIVE: after faults stop every host but a dead master is up on one network), also with
3 hosts, where a master lost while a single re-admission is pending used to block the pool for ever.

spin is a test dependency (scripts/install-system-deps): a missing spin fails, never skips. The two
broken variants must fail, so a model or harness that cannot fail is caught too.
"""
import os
import re
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MODEL = os.path.join(REPO, "halizard", "witness", "membership.pml")


def _check(tmp_path, claim, defines=(), liveness=False):
    """(errors, complete, output) of an exhaustive search for `claim`."""
    assert shutil.which("spin"), "spin is missing: run scripts/install-system-deps (Debian package spin)"
    assert shutil.which("gcc"), "gcc is missing"
    shutil.copy(MODEL, str(tmp_path / "membership.pml"))

    def run(argv, timeout=900):
        return subprocess.run(argv, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=timeout)

    generated = run(["spin"] + ["-D" + d for d in defines] + ["-a", "membership.pml"])
    assert generated.returncode == 0 and os.path.exists(str(tmp_path / "pan.c")), generated.stdout
    flags = ["-DNFAIR=3"] if liveness else ["-DSAFETY"]
    # no -DCOLLAPSE: the full search keeps ~7 million states in about 1 GB either way, and compressing each
    # one cost 40% more CPU (56 s against 34 s for "safe"), CPU the suite's scenarios run beside
    compiled = run(["gcc", "-O2"] + flags + ["-o", "pan", "pan.c"])
    assert compiled.returncode == 0, compiled.stdout
    searched = run(["./pan", "-m200000"] + (["-a", "-f"] if liveness else []) + ["-N", claim])
    found = re.search(r"errors: (\d+)", searched.stdout)
    assert found, searched.stdout
    return int(found.group(1)), "Search not completed" not in searched.stdout, searched.stdout


@pytest.mark.timeout(900)  # about 7.1 million states, 1 GB
def test_safe_exhaustively(tmp_path):
    errors, complete, output = _check(tmp_path, "safe")
    assert errors == 0 and complete, output


@pytest.mark.timeout(900)  # about 7.2 million states with weak fairness, 1 GB
def test_live_exhaustively(tmp_path):
    errors, complete, output = _check(tmp_path, "live", ["LIVE"], liveness=True)
    assert errors == 0 and complete, output


THREE_HOSTS = ["N=3", "VICTIM=2"]


@pytest.mark.timeout(300)
def test_live_with_three_hosts_and_a_master_lost_during_a_readmission(tmp_path):
    errors, complete, output = _check(tmp_path, "live", ["LIVE"] + THREE_HOSTS, liveness=True)
    assert errors == 0 and complete, output


def test_the_joint_rule_for_a_single_readmission_blocks_a_pool_for_ever(tmp_path):
    """The rule before issue 14's fix: the liveness search must find the dead end."""
    errors, _complete, output = _check(tmp_path, "live", ["LIVE", "BROKEN_JOINT_ALWAYS"] + THREE_HOSTS,
                                       liveness=True)
    assert errors > 0, output


@pytest.mark.parametrize("define", ["BROKEN_STALE", "BROKEN_NO_JOINT", "BROKEN_STACKED"])
def test_broken_variants_are_caught(tmp_path, define):
    errors, _complete, output = _check(tmp_path, "safe", [define])
    assert errors > 0, output
