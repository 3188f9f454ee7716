"""`make demo` runs `python -m halizard.sim.demo`: the whole story must end with no violation.

Why a test: the demo is one of the two commands the README opens with, and it depends on the timing
of every job; nothing else would notice when a change makes it time out.
"""
import subprocess
import sys

import pytest


@pytest.mark.timeout(600)
def test_the_demo_runs_the_whole_story_without_a_violation():
    result = subprocess.run([sys.executable, "-m", "halizard.sim.demo"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=540)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "No violation" in result.stdout
    for step in ("vm001 running again", "running again on", "a slave took over as master"):
        assert step in result.stdout, result.stdout[-3000:]
