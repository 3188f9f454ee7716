"""The Promela model of the witness lease (halizard/witness/lease.pml), checked exhaustively by spin.

spin is a test dependency (scripts/install-system-deps): a missing spin fails, never skips. Two
deliberately broken variants must fail, so a model or harness that cannot fail is caught too.
"""
import os
import re
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MODEL = os.path.join(REPO, "halizard", "witness", "lease.pml")


def _check(tmp_path, claim, define=None):
    """(errors, complete, output) of an exhaustive search for `claim` with weak fairness."""
    assert shutil.which("spin"), "spin is missing: run scripts/install-system-deps (Debian package spin)"
    assert shutil.which("gcc"), "gcc is missing"
    shutil.copy(MODEL, str(tmp_path / "lease.pml"))

    def run(argv):
        done = subprocess.run(argv, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=300)
        return done

    generated = run(["spin"] + (["-D" + define] if define else []) + ["-a", "lease.pml"])
    assert generated.returncode == 0 and os.path.exists(str(tmp_path / "pan.c")), generated.stdout
    compiled = run(["gcc", "-O2", "-DNFAIR=6", "-o", "pan", "pan.c"])
    assert compiled.returncode == 0, compiled.stdout
    searched = run(["./pan", "-a", "-f", "-m200000", "-N", claim])
    found = re.search(r"errors: (\d+)", searched.stdout)
    assert found, searched.stdout
    return int(found.group(1)), "Search not completed" not in searched.stdout, searched.stdout


@pytest.mark.parametrize("claim", ["safe", "live"])
def test_model_holds_exhaustively(tmp_path, claim):
    errors, complete, output = _check(tmp_path, claim)
    assert errors == 0 and complete, output


@pytest.mark.parametrize("define,claim", [("BROKEN_NO_HOLD", "safe"), ("BROKEN_STUCK_HOLD", "live")])
def test_broken_variants_are_caught(tmp_path, define, claim):
    errors, _complete, output = _check(tmp_path, claim, define)
    assert errors > 0, output
