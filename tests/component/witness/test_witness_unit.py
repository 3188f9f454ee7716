"""init/ha-lizard-witness.service: verifies with systemd-analyze and uses only systemd-219 directives
(the checker of tests/deploy/test_unit_systemd219.py)."""
import importlib.util
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
UNIT = os.path.join(REPO, "init", "ha-lizard-witness.service")

_spec = importlib.util.spec_from_file_location(
    "unit_systemd219_for_witness", os.path.join(REPO, "tests", "deploy", "test_unit_systemd219.py"))
systemd219 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(systemd219)


def test_only_systemd_219_directives():
    assert systemd219.unknown_to_219(UNIT) == []
    found = systemd219.unit_directives(UNIT)
    assert "StartLimitInterval" in found["Service"]
    with open(UNIT) as handle:
        text = handle.read()
    assert "ha-lizard witness --listen" in text and "--secret-file" in text and "--state-file" in text


def test_systemd_analyze_verify_passes(tmp_path):
    launcher = tmp_path / "bin" / "ha-lizard"
    launcher.parent.mkdir()
    launcher.write_text("#!/bin/sh\nexec %s -m halizard.cli.ha_lizard \"$@\"\n" % sys.executable)
    launcher.chmod(0o755)
    with open(UNIT) as handle:
        text = handle.read().replace("/usr/bin/ha-lizard", str(launcher))
    target = tmp_path / "ha-lizard-witness.service"
    target.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(target)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert result.returncode == 0, result.stderr
