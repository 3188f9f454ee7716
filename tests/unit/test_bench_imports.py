"""`make bench` installs only the runtime venv: every benchmark must import without the test extra.

Issue 19 item 5: the benchmarks import the scenario harness, which imported pytest at
module level, so `make bench` on a fresh clone stopped at the first benchmark.
"""
import glob
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCHMARKS = sorted(glob.glob(os.path.join(REPO, "benchmarks", "*.py")))
# import names of the packages only the test extra installs (pyproject.toml [test])
TEST_ONLY = ("pytest", "_pytest", "pytest_timeout", "xdist", "execnet", "ruff", "vermin", "aiosmtpd", "pyghmi")

PROBE = r"""
import importlib.abc, importlib.util, os, sys

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("%s is in the test extra only" % name)
        return None

BLOCKED = set(sys.argv[1].split(","))
sys.meta_path.insert(0, Blocked())
for path in sys.argv[2:]:
    name = "bench_probe_" + os.path.splitext(os.path.basename(path))[0]
    sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    print("imported", os.path.basename(path))
# what the benchmarks import lazily from the scenario tests
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(sys.argv[2])), "tests", "scenarios"))
import harness  # noqa: E401
print("imported harness")
"""


def test_benchmarks_exist():
    assert len(BENCHMARKS) >= 5, BENCHMARKS


def test_every_benchmark_imports_without_the_test_extra():
    result = subprocess.run([sys.executable, "-c", PROBE, ",".join(TEST_ONLY)] + BENCHMARKS,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    for path in BENCHMARKS:
        assert "imported %s" % os.path.basename(path) in result.stdout
    assert "imported harness" in result.stdout


def test_the_probe_does_block_pytest():
    """The blocker must bite: a module that imports pytest fails under it."""
    script = os.path.join(REPO, "tests", "conftest.py")
    result = subprocess.run([sys.executable, "-c", PROBE, "pytest", os.path.join(REPO, "benchmarks", "bench_sim.py"),
                             script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=120, cwd=REPO)
    assert result.returncode != 0
    assert "pytest is in the test extra only" in result.stderr
