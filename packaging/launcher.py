#!/usr/bin/python3
# Launcher of the installed ha-lizard tools (ha-lizard, ha-cfg, recover_fenced_host).
#
# Why: the RPM carries its Python libraries under /opt/ha-lizard, one tree per
# Python version (lib/pythonX.Y), so a dom0's /usr/bin/python3 (3.6 on XCP-ng 8,
# 3.11+ on XCP-ng 9) runs it with no network and no pip. The tree goes after the
# standard library and before site-packages: the dom0's own packages never
# replace ours, and ours never replace the standard library. PYTHONPATH carries
# the same paths to the interpreters the service starts itself (its forkserver,
# `ha-lizard start`). Written so that Python 2 can read it: a wrong interpreter
# gets one line, not a SyntaxError.
import os
import sys

ENTRIES = {
    "ha-lizard": "halizard.cli.ha_lizard",
    "ha-cfg": "halizard.cli.ha_cfg",
    "recover_fenced_host": "halizard.cli.recover_fenced_host",
}
PREFIX = os.path.join("opt", "ha-lizard")
# The libraries the tools import (checked before starting, without importing them: a missing
# one is named in one line). packaging/vendor.py imports each in every tree it builds.
REQUIRED = ["XenAPI", "apscheduler", "filelock", "multiprocess", "daemon", "loguru", "tzlocal"]
REQUIRED_BEFORE_37 = ["dataclasses", "contextvars", "immutables"]


def fail(prog, message):
    sys.stderr.write("%s: %s\n" % (prog, message))
    sys.exit(1)


def install_root(script):
    """The nearest folder above the script holding opt/ha-lizard: / on a host, a scratch root in tests."""
    folder = os.path.dirname(os.path.realpath(script))
    while True:
        if os.path.isdir(os.path.join(folder, PREFIX, "halizard")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def library_paths(prog, script):
    root = install_root(script)
    if root is None:
        fail(prog, "its libraries are missing (no %s/halizard); reinstall the ha-lizard RPM" % ("/" + PREFIX))
    prefix = os.path.join(root, PREFIX)
    tree = os.path.join(prefix, "lib", "python%d.%d" % sys.version_info[:2])
    if not os.path.isdir(tree):
        lib = os.path.join(prefix, "lib")
        names = os.listdir(lib) if os.path.isdir(lib) else []
        carried = sorted((name[len("python"):] for name in names if name.startswith("python")),
                         key=lambda v: [int(p) for p in v.split(".") if p.isdigit()])
        fail(prog, "no libraries for Python %d.%d in %s (this package carries Python %s)"
             % (sys.version_info[0], sys.version_info[1], prefix, ", ".join(carried) or "none"))
    return [prefix, tree]


def missing_libraries(tree):
    """Required top-level modules absent from the tree (a file or package folder each)."""
    import importlib.machinery

    names = REQUIRED + (REQUIRED_BEFORE_37 if sys.version_info < (3, 7) else [])
    return [name for name in names if importlib.machinery.PathFinder.find_spec(name, [tree]) is None]


def main():
    prog = os.path.basename(sys.argv[0]) or "ha-lizard"
    module = ENTRIES.get(prog)
    if module is None:
        fail(prog, "unknown tool name (expected one of: %s)" % ", ".join(sorted(ENTRIES)))
    if sys.version_info < (3, 6):
        fail(prog, "needs Python 3.6 or newer; %s is Python %d.%d" % (
            sys.executable or "this interpreter", sys.version_info[0], sys.version_info[1]))
    paths = library_paths(prog, sys.argv[0])
    missing = missing_libraries(paths[1])
    if missing:
        fail(prog, "libraries missing from %s: %s; reinstall the ha-lizard RPM" % (paths[1], ", ".join(missing)))
    site = [i for i, entry in enumerate(sys.path) if entry.endswith(("site-packages", "dist-packages"))]
    position = site[0] if site else len(sys.path)
    sys.path[position:position] = paths
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    try:
        entry = __import__(module, fromlist=["main"])
        status = entry.main()
    except (ImportError, SyntaxError) as exc:
        fail(prog, "cannot load its Python libraries (%s); reinstall the ha-lizard RPM" % exc)
    sys.exit(status)


if __name__ == "__main__":
    main()
