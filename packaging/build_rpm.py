"""`make rpm`: stage every file the RPM holds, then build dist/ha-lizard-<version>-<release>.noarch.rpm.

Why one script: the same build runs from `make rpm` and from the install test,
which must test exactly what ships. The library trees come from
packaging/vendor.py (cached, so a rebuild needs no network); man pages and
bash completion are generated fresh from the parsers (packaging/gen_docs.py).
"""
import gzip
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(1, TOP)

import gen_docs  # noqa: E402
import vendor  # noqa: E402

PRE = re.compile(r"^(\d+(?:\.\d+)*)(?:\.?(dev|a|b|rc)(\d+))?(?:\.post(\d+))?$")


class BuildError(Exception):
    pass


def project_version():
    text = open(os.path.join(TOP, "pyproject.toml")).read()
    found = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if not found:
        raise BuildError("no version in pyproject.toml")
    return found.group(1)


def rpm_version(version):
    """PEP 440 -> (Version, Release), so that rpm orders releases as pip does.

    Rule: X.Y.Z -> (X.Y.Z, 1); a pre-release X.Y.Z{.devN,aN,bN,rcN} -> (X.Y.Z, 0.<tag>N),
    which sorts before the final's release 1; X.Y.Z.postN -> (X.Y.Z, 1.postN).
    """
    found = PRE.match(version)
    if not found:
        raise BuildError("version %r of pyproject.toml has no RPM mapping (X.Y.Z[.devN|aN|bN|rcN][.postN])"
                         % version)
    base, tag, number, post = found.groups()
    if tag:
        return base, "0.%s%s" % (tag, number)
    return base, "1.post%s" % post if post else "1"


def _copy(src, dst, mode):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(src, dst)
    os.chmod(dst, mode)


def stage(root, trees):
    """Lay out every file of the package under `root`, as it lands on the dom0."""
    shutil.rmtree(root, ignore_errors=True)
    prefix = os.path.join(root, "opt", "ha-lizard")
    shutil.copytree(os.path.join(TOP, "halizard"), os.path.join(prefix, "halizard"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for version, tree in trees.items():
        shutil.copytree(tree, os.path.join(prefix, "lib", "python" + version),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    launcher = os.path.join(HERE, "launcher.py")
    for path in ("usr/bin/ha-lizard", "usr/bin/ha-cfg", "etc/ha-lizard/scripts/recover_fenced_host"):
        _copy(launcher, os.path.join(root, path), 0o755)
    _copy(os.path.join(HERE, "scriptlet"), os.path.join(root, "usr/libexec/ha-lizard/scriptlet"), 0o755)
    for unit in ("ha-lizard.service", "ha-lizard-witness.service"):  # the witness runs off the pool
        _copy(os.path.join(TOP, "init", unit), os.path.join(root, "usr/lib/systemd/system", unit), 0o644)
    for name in ("ha-lizard", "ha-lizard-watchdog"):
        _copy(os.path.join(TOP, "init", name), os.path.join(root, "etc/rc.d/init.d", name), 0o755)
    _copy(os.path.join(TOP, "etc/ha-lizard/ha-lizard.conf"), os.path.join(root, "etc/ha-lizard/ha-lizard.conf"), 0o600)
    _copy(os.path.join(TOP, "etc/ha-lizard/fence/README"), os.path.join(root, "etc/ha-lizard/fence/README"), 0o644)
    for name in ("install.md",):
        _copy(os.path.join(TOP, "docs", name), os.path.join(root, "usr/share/doc/ha-lizard", name), 0o644)
    _copy(os.path.join(TOP, "README.md"), os.path.join(root, "usr/share/doc/ha-lizard/README.md"), 0o644)
    generated = os.path.join(os.path.dirname(root), "generated")
    shutil.rmtree(generated, ignore_errors=True)
    gen_docs.write_all(generated)
    for prog in gen_docs.parsers():
        _copy(os.path.join(generated, "completions", prog),
              os.path.join(root, "usr/share/bash-completion/completions", prog), 0o644)
        page = os.path.join(root, "usr/share/man/man8", prog + ".8.gz")
        os.makedirs(os.path.dirname(page), exist_ok=True)
        with open(os.path.join(generated, "man8", prog + ".8"), "rb") as src, \
                gzip.GzipFile(page, "wb", mtime=0) as dst:
            dst.write(src.read())


def build(dist=None, build_dir=None):
    """Build the RPM; returns its path."""
    build_dir = build_dir or os.path.join(TOP, "build")
    dist = dist or os.path.join(TOP, "dist")
    if not shutil.which("rpmbuild"):
        raise BuildError("rpmbuild is missing (run scripts/install-system-deps as root)")
    version, release = rpm_version(project_version())
    trees = vendor.build_all(build_dir)
    work = os.path.join(build_dir, "rpm")
    stage(os.path.join(work, "stage"), trees)
    top = os.path.join(work, "top")
    shutil.rmtree(top, ignore_errors=True)
    argv = ["rpmbuild", "-bb", "--quiet",
            "--define", "_topdir %s" % top,
            "--define", "hl_stage %s" % os.path.join(work, "stage"),
            "--define", "hl_version %s" % version,
            "--define", "hl_release %s" % release,
            # gzip payload and no newer rpmlib features: rpm 4.11 (CentOS 7 userland) must read it.
            "--define", "_binary_payload w9.gzdio",
            "--define", "_source_payload w9.gzdio",
            "--define", "_buildhost ha-lizard-build",
            os.path.join(HERE, "ha-lizard.spec")]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if proc.returncode != 0:
        raise BuildError("rpmbuild failed:\n%s" % "\n".join(proc.stdout.strip().splitlines()[-20:]))
    name = "ha-lizard-%s-%s.noarch.rpm" % (version, release)
    built = os.path.join(top, "RPMS", "noarch", name)
    os.makedirs(dist, exist_ok=True)
    target = os.path.join(dist, name)
    shutil.copyfile(built, target)
    return target


def main():
    try:
        print(build())
    except (BuildError, vendor.VendorError) as exc:
        sys.stderr.write("make rpm: %s\n" % exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
