"""The vendoring step's tool venv is built whole or not at all.

Why: an RPM build interrupted while it created build/pytools/<version> left
a venv without its pip, and every later build failed on it until someone
removed it by hand.
"""
import os
import sys

import pytest

import rpmroot

sys.path.insert(0, os.path.join(rpmroot.REPO, "packaging"))
import vendor  # noqa: E402


@pytest.fixture
def fake_run(monkeypatch):
    """vendor._run without processes: `python -m venv DIR` makes DIR/bin/python; the rest is recorded."""
    calls = []

    def run(argv, what):
        calls.append(argv)
        if argv[1:3] == ["-m", "venv"]:
            os.makedirs(os.path.join(argv[3], "bin"))
            open(os.path.join(argv[3], "bin", "python"), "w").close()
        if run.fail_on and run.fail_on in " ".join(argv):
            raise vendor.VendorError("%s failed" % what)
        return ""
    run.fail_on = None
    monkeypatch.setattr(vendor, "_run", run)
    return run, calls


def test_an_interrupted_build_leaves_nothing_in_place_and_the_next_one_builds_it(tmp_path, fake_run):
    run, calls = fake_run
    run.fail_on = "pip install"
    with pytest.raises(vendor.VendorError):
        vendor._tool_python("3.6", "/usr/bin/python3.6", str(tmp_path))
    assert not os.path.exists(tmp_path / "pytools" / "3.6")
    run.fail_on = None
    tool = vendor._tool_python("3.6", "/usr/bin/python3.6", str(tmp_path))
    assert tool == str(tmp_path / "pytools" / "3.6" / "bin" / "python") and os.path.exists(tool)
    assert not os.path.exists(tmp_path / "pytools" / "3.6.tmp")


def test_a_half_built_venv_from_before_is_built_again_and_a_whole_one_is_kept(tmp_path, fake_run):
    _run, calls = fake_run
    half = tmp_path / "pytools" / "3.6" / "bin"
    half.mkdir(parents=True)
    (half / "python").write_text("")  # a venv whose pip install never ran: no completion marker
    vendor._tool_python("3.6", "/usr/bin/python3.6", str(tmp_path))
    assert any("pip" in " ".join(argv) for argv in calls), "the half-built venv was trusted"
    calls.clear()
    vendor._tool_python("3.6", "/usr/bin/python3.6", str(tmp_path))
    assert calls == []
