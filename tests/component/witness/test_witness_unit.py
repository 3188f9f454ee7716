"""init/ha-lizard-witness.service: verifies with systemd-analyze and uses only systemd-219 directives."""
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
UNIT = os.path.join(REPO, "init", "ha-lizard-witness.service")
# Directives of systemd 219 (CentOS 7) that this unit may use.
KNOWN_219 = {
    "Unit": {"Description", "After", "Wants", "Requires", "Documentation"},
    "Service": {"Type", "Environment", "EnvironmentFile", "ExecStart", "Restart", "RestartSec",
                "StartLimitInterval", "StartLimitBurst", "UMask", "User", "Group", "TimeoutStopSec"},
    "Install": {"WantedBy"},
}


def _sections(text):
    section, found = None, []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^\[(\w+)\]$", line)
        if match:
            section = match.group(1)
            continue
        found.append((section, line.split("=", 1)[0]))
    return found


def test_only_systemd_219_directives():
    with open(UNIT) as handle:
        text = handle.read()
    unknown = [(s, d) for s, d in _sections(text) if d not in KNOWN_219.get(s, ())]
    assert unknown == []
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
