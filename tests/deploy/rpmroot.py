"""The built RPM unpacked into a scratch root, and how to run its installed tools there.

Why: the install test must run exactly what ships: the RPM that
packaging/build_rpm.py builds (as `make rpm` does; library trees cached, so a
rebuild takes seconds and is never stale), unpacked with rpm2cpio | cpio
(never installed into this machine's own system), its launchers run by the
interpreter a dom0 has.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "packaging"))

import build_rpm  # noqa: E402
import vendor  # noqa: E402


def build():
    """A freshly built RPM (dist/ha-lizard-<version>-<release>.noarch.rpm)."""
    return build_rpm.build()


def rpm_query(rpm, *args):
    return subprocess.run(["rpm", "-qp"] + list(args) + [rpm], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=True).stdout


def unpack(rpm, root):
    """Extract the RPM's files under `root` (what `rpm -i --root` lays down, without scriptlets)."""
    os.makedirs(root, exist_ok=True)
    payload = subprocess.Popen(["rpm2cpio", rpm], stdout=subprocess.PIPE)
    subprocess.run(["cpio", "-idm", "--quiet"], stdin=payload.stdout, cwd=root, check=True)
    payload.stdout.close()
    assert payload.wait() == 0
    return root


def python(version):
    """The X.Y interpreter a dom0 would have as /usr/bin/python3 (3.6: XCP-ng 8; 3.11: XCP-ng 9)."""
    return vendor.interpreter(version)


def clean_env(**extra):
    """This environment without anything that could lend the tools the repository's code."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "HALIZARD_ROOT", "NOTIFY_SOCKET", "HALIZARD_JOBS",
                        "VIRTUAL_ENV")}
    env.update(extra)
    return env


def run_tool(root, tool, args, version="3.6", env=None, timeout=120):
    """`<pythonX.Y> <root>/usr/bin/<tool> ARGS` (CompletedProcess, text)."""
    argv = [python(version), os.path.join(root, "usr", "bin", tool)] + [str(a) for a in args]
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          env=env or clean_env(), timeout=timeout, check=False)
