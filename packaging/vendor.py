"""Build the library trees the RPM carries: /opt/ha-lizard/lib/pythonX.Y, one per Python version.

Why: a dom0 has no network and no pip, and its /usr/bin/python3 is 3.6 (XCP-ng 8)
or 3.11+ (XCP-ng 9). Each tree is installed by the interpreter it is for, from a
fully pinned list (packaging/vendor/*.txt, --no-deps), and must be pure Python so
the RPM is really noarch. Trees are cached under build/vendor/, keyed by the list,
the interpreter's version and this file, so a rebuild needs no network.
"""
import hashlib
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LISTS = os.path.join(HERE, "vendor")
# Python version -> pinned list. 3.6: XCP-ng 8.2/8.3 and XenServer 8; 3.11+: XCP-ng 9.
TREES = {"3.6": "python3.6.txt", "3.11": "python3.txt", "3.12": "python3.txt", "3.13": "python3.txt"}
# pip 21.3 is the last pip for 3.6 and the first that keeps to a package's Requires-Python everywhere.
PIP_FOR = {"3.6": "pip>=21.3,<22"}
# Compiled speed-ups whose package falls back to pure Python when the extension is missing.
PURE_FALLBACK = {"immutables"}
TOOL_COMPLETE = ".ha-lizard-complete"  # in a tool venv: it was built to the end
sys.path.insert(0, HERE)
from launcher import REQUIRED, REQUIRED_BEFORE_37  # noqa: E402 - the one list of what the tools need


class VendorError(Exception):
    pass


def _pyenv():
    """pyenv's executable: on PATH, else under PYENV_ROOT or ~/.pyenv (CI's PATH may lack it)."""
    found = shutil.which("pyenv")
    if found:
        return found
    root = os.environ.get("PYENV_ROOT") or os.path.join(os.path.expanduser("~"), ".pyenv")
    return os.path.join(root, "bin", "pyenv")


def interpreter(version):
    """The newest installed X.Y interpreter: pyenv's first (the CI machines have it), else pythonX.Y."""
    pyenv = _pyenv()
    try:
        names = subprocess.run([pyenv, "versions", "--bare"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, universal_newlines=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        names = []
    matches = [n for n in names if n.split(".")[:2] == version.split(".") and n.replace(".", "").isdigit()]
    if matches:
        best = max(matches, key=lambda n: [int(p) for p in n.split(".")])
        prefix = subprocess.run([pyenv, "prefix", best], stdout=subprocess.PIPE,
                                universal_newlines=True, check=True).stdout.strip()
        return os.path.join(prefix, "bin", "python" + version)
    found = shutil.which("python" + version)
    if found:
        return found
    raise VendorError("no Python %s interpreter (pyenv install %s, or put python%s on PATH)"
                      % (version, version, version))


def _run(argv, what):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise VendorError("%s failed (%s):\n%s" % (what, " ".join(argv[:3]), tail))
    return proc.stdout


def tree_key(version, python):
    full = _run([python, "-c", "import sys; print(sys.version)"], "asking the version").strip()
    digest = hashlib.sha256()
    for part in (open(os.path.join(LISTS, TREES[version]), "rb").read(), full.encode(),
                 open(os.path.abspath(__file__), "rb").read()):
        digest.update(part)
    return digest.hexdigest()[:16]


def _strip_compiled(target):
    """Drop fallback-able extensions, scripts and caches; refuse any other compiled file."""
    shutil.rmtree(os.path.join(target, "bin"), ignore_errors=True)
    compiled = []
    for folder, dirs, files in os.walk(target):
        if "__pycache__" in dirs:
            dirs.remove("__pycache__")
            shutil.rmtree(os.path.join(folder, "__pycache__"))
        for name in files:
            if name.endswith((".so", ".pyd")):
                top = os.path.relpath(folder, target).split(os.sep)[0]
                if top in PURE_FALLBACK:
                    os.remove(os.path.join(folder, name))
                else:
                    compiled.append(os.path.relpath(os.path.join(folder, name), target))
    if compiled:
        raise VendorError("compiled files in the vendored tree (the RPM must be noarch): %s" % ", ".join(compiled))


def check_imports(version, python, target):
    """Import what the service needs with the tree appended to sys.path, as the launcher does."""
    names = REQUIRED + ["multiprocess.forkserver"]
    if version == "3.6":
        names += REQUIRED_BEFORE_37 + ["aiocontextvars"]
    code = "import sys; sys.path.append(%r)\nfor name in %r:\n    __import__(name)\n" % (target, names)
    if os.path.isdir(os.path.join(target, "immutables")):  # the pure fallback works
        code += "import immutables; assert immutables.Map({'a': 1})['a'] == 1\n"
    _run([python, "-I", "-B", "-c", code], "importing the vendored libraries with %s" % python)


def _tool_python(version, python, build):
    """A venv of `python` with the pip this version needs (pip 21.3 for 3.6).

    Built beside its place and renamed into it once complete (a marker file
    says so): an interrupted build, or a venv left half-built by an older
    version of this file, is built again instead of failing every later run.
    """
    venv = os.path.join(build, "pytools", version)
    if os.path.exists(os.path.join(venv, TOOL_COMPLETE)):
        return os.path.join(venv, "bin", "python")
    work = venv + ".tmp"
    shutil.rmtree(work, ignore_errors=True)
    _run([python, "-m", "venv", work], "creating a venv")
    if version in PIP_FOR:
        _run([os.path.join(work, "bin", "python"), "-m", "pip", "install", "-q", PIP_FOR[version]],
             "installing %s" % PIP_FOR[version])
    with open(os.path.join(work, TOOL_COMPLETE), "w") as handle:
        handle.write("complete\n")
    shutil.rmtree(venv, ignore_errors=True)
    os.rename(work, venv)
    return os.path.join(venv, "bin", "python")


def build_tree(version, build):
    """The cached tree for `version` (built when missing); returns its path."""
    python = interpreter(version)
    final = os.path.join(build, "vendor", "python%s-%s" % (version, tree_key(version, python)))
    if os.path.isdir(final):
        return final
    work = final + ".tmp"
    shutil.rmtree(work, ignore_errors=True)
    tool = _tool_python(version, python, build)
    _run([tool, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--target", work,
          "-r", os.path.join(LISTS, TREES[version])], "pip install for Python %s" % version)
    _strip_compiled(work)
    check_imports(version, python, work)
    os.rename(work, final)
    return final


def build_all(build):
    return {version: build_tree(version, build) for version in sorted(TREES)}


if __name__ == "__main__":
    try:
        for ver, path in sorted(build_all(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")).items()):
            print("python%s: %s" % (ver, path))
    except VendorError as exc:
        sys.stderr.write("vendor: %s\n" % exc)
        sys.exit(1)
