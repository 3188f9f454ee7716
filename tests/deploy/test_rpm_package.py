"""What the RPM holds, and how its installed launchers behave before any pool is involved."""
import gzip
import os
import shutil
import subprocess

import rpmroot

LAYOUT = [
    "/usr/bin/ha-lizard", "/usr/bin/ha-cfg", "/usr/libexec/ha-lizard/scriptlet",
    "/usr/lib/systemd/system/ha-lizard.service", "/usr/lib/systemd/system/ha-lizard-witness.service",
    "/etc/rc.d/init.d/ha-lizard", "/etc/rc.d/init.d/ha-lizard-watchdog",
    "/etc/ha-lizard/ha-lizard.conf", "/etc/ha-lizard/fence", "/etc/ha-lizard/fence/README",
    "/etc/ha-lizard/scripts/recover_fenced_host",
    "/usr/share/bash-completion/completions/ha-lizard", "/usr/share/bash-completion/completions/ha-cfg",
    "/usr/share/man/man8/ha-lizard.8.gz", "/usr/share/man/man8/ha-cfg.8.gz",
    "/usr/share/doc/ha-lizard/install.md",
    "/opt/ha-lizard/halizard/cli/ha_cfg/__init__.py", "/opt/ha-lizard/halizard/cli/ha_cfg/__main__.py",
    "/opt/ha-lizard/lib/python3.6/loguru/__init__.py", "/opt/ha-lizard/lib/python3.6/dataclasses.py",
    "/opt/ha-lizard/lib/python3.11/multiprocess/__init__.py",
]
# rpmlib() features that rpm 4.11 (the CentOS 7 userland of XCP-ng 8 / XenServer 8) provides and that
# a noarch gzip package may need (rpm 4.11 `rpm --querytags` era; zstd payloads need rpm 4.14+).
RPMLIB_411 = {"CompressedFileNames", "FileDigests", "PayloadFilesHavePrefix", "PayloadIsXz", "PayloadIsLzma",
              "PartialHardlinkSets", "ScriptletInterpreterArgs", "VersionedDependencies", "FileCaps",
              "TildeInVersions", "HeaderLoadSortsTags", "ExplicitPackageProvide", "BuiltinLuaScripts"}


def test_rpm_name_version_and_noarch(built_rpm):
    from build_rpm import project_version, rpm_version

    version, release = rpm_version(project_version())
    assert os.path.basename(built_rpm) == "ha-lizard-%s-%s.noarch.rpm" % (version, release)
    info = rpmroot.rpm_query(built_rpm, "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{PAYLOADCOMPRESSOR}")
    assert info == "ha-lizard %s %s noarch gzip" % (version, release)


def test_version_mapping_rule():
    from build_rpm import BuildError, rpm_version

    assert rpm_version("3.0.0") == ("3.0.0", "1")
    assert rpm_version("3.0.0.dev0") == ("3.0.0", "0.dev0")
    assert rpm_version("3.1.0rc2") == ("3.1.0", "0.rc2")
    assert rpm_version("3.0.1.post1") == ("3.0.1", "1.post1")
    try:
        rpm_version("3.0.0+local")
    except BuildError as exc:
        assert "no RPM mapping" in str(exc)
    else:
        raise AssertionError("a local version must be refused")


def test_rpm_lists_the_layout_and_the_configuration_file(built_rpm):
    listed = set(rpmroot.rpm_query(built_rpm, "-l").split())
    assert [path for path in LAYOUT if path not in listed] == []
    assert rpmroot.rpm_query(built_rpm, "-c").split() == ["/etc/ha-lizard/ha-lizard.conf"]
    assert not [p for p in listed if p.endswith((".so", ".pyd", ".pyc"))], "the RPM must be pure noarch"


def test_rpm_needs_only_what_an_el7_rpm_provides(built_rpm):
    requires = [line.split()[0] for line in rpmroot.rpm_query(built_rpm, "--requires").splitlines()]
    features = {r[len("rpmlib("):-1] for r in requires if r.startswith("rpmlib(")}
    assert features <= RPMLIB_411
    assert {r for r in requires if not r.startswith("rpmlib(")} == {"/bin/sh", "/usr/bin/python3"}


def test_scriptlets_call_the_installed_script(built_rpm):
    scripts = rpmroot.rpm_query(built_rpm, "--scripts")
    assert '/usr/libexec/ha-lizard/scriptlet post "$1"' in scripts
    assert '/usr/libexec/ha-lizard/scriptlet preun "$1"' in scripts
    assert scripts.split("postuninstall scriptlet (using /bin/sh):\n")[1].splitlines()[-1] == \
        "if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || :; fi"


def test_man_pages_and_completion_are_those_of_the_current_parsers(installed, tmp_path):
    import gen_docs

    fresh = tmp_path / "fresh"
    gen_docs.write_all(str(fresh))
    for prog in ("ha-lizard", "ha-cfg"):
        with gzip.open(os.path.join(installed, "usr/share/man/man8", prog + ".8.gz"), "rt") as page:
            assert page.read() == (fresh / "man8" / (prog + ".8")).read_text()
        shipped = os.path.join(installed, "usr/share/bash-completion/completions", prog)
        assert open(shipped).read() == (fresh / "completions" / prog).read_text()


def test_man_page_and_completion_cover_every_subcommand_and_option():
    import gen_docs

    parser = gen_docs.parsers()["ha-cfg"]
    page = gen_docs.manpage("ha-cfg", parser, "0")
    script = gen_docs.completion("ha-cfg", parser)
    for name, _text, sub in gen_docs._subparsers(parser):
        assert "\\fB%s\\fR" % name.replace("-", "\\-") in page
        assert "        %s) COMPREPLY" % name in script
        for flags, _m, _t in gen_docs._options(sub):
            assert flags[-1].replace("-", "\\-") in page
    assert "--include-secrets" in script and "--effective" in script


def test_bash_completion_completes_a_subcommand(installed):
    script = os.path.join(installed, "usr/share/bash-completion/completions/ha-cfg")
    probe = ('source %s; COMP_WORDS=(ha-cfg ha-e); COMP_CWORD=1; _ha_cfg; echo "${COMPREPLY[*]}"; '
             'COMP_WORDS=(ha-cfg get --e); COMP_CWORD=2; _ha_cfg; echo "${COMPREPLY[*]}"' % script)
    out = subprocess.run(["bash", "-c", probe], stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    assert out.splitlines() == ["ha-enable", "--effective"]


def test_installed_tools_run_with_python36_and_python311(installed):
    from build_rpm import project_version

    for version in ("3.6", "3.11"):
        result = rpmroot.run_tool(installed, "ha-cfg", ["version"], version=version)
        assert (result.returncode, result.stdout, result.stderr) == (0, "Version %s\n" % project_version(), ""), \
            version
        result = rpmroot.run_tool(installed, "ha-lizard", ["--root", installed, "status"], version=version)
        assert (result.returncode, result.stdout) == (3, "ha-lizard is not running\n"), result.stderr


def test_recover_fenced_host_is_the_installed_launcher_too(installed):
    script = os.path.join(installed, "etc/ha-lizard/scripts/recover_fenced_host")
    result = subprocess.run([rpmroot.python("3.6"), script, "--help"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, env=rpmroot.clean_env())
    assert result.returncode == 0 and result.stdout.startswith("usage: recover_fenced_host"), result.stderr


def test_the_installed_code_and_libraries_are_the_ones_used(installed, tmp_path):
    """The launcher puts the RPM's trees before site-packages (the 3.6 interpreter here has its own)."""
    code = ("import runpy, sys; sys.argv = [%r, 'version']\n"
            "try:\n    runpy.run_path(%r, run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "import halizard, loguru, dataclasses; print(halizard.__file__); print(loguru.__file__); "
            "print(dataclasses.__file__)")
    for version in ("3.6", "3.11"):
        launcher = os.path.join(installed, "usr/bin/ha-cfg")
        result = subprocess.run([rpmroot.python(version), "-c", code % (launcher, launcher)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                                env=rpmroot.clean_env(), cwd=str(tmp_path))  # -c puts the cwd first
        lines = result.stdout.splitlines()
        assert lines[0].startswith("Version "), result.stderr
        assert lines[1].startswith(os.path.join(installed, "opt/ha-lizard/halizard/"))
        assert lines[2].startswith(os.path.join(installed, "opt/ha-lizard/lib/python%s/loguru/" % version))
        if version == "3.6":
            assert lines[3].startswith(os.path.join(installed, "opt/ha-lizard/lib/python3.6/"))
        else:  # the standard library's own, never a backport
            assert "/opt/ha-lizard/" not in lines[3] and "/lib/python3.11/dataclasses.py" in lines[3]


def test_no_vendored_module_shadows_the_standard_library(installed):
    """Children get the trees through PYTHONPATH, ahead of the standard library: nothing there may be stdlib."""
    lib = os.path.join(installed, "opt/ha-lizard/lib")
    for tree in sorted(os.listdir(lib)):
        version = tree[len("python"):]
        names = sorted({entry.split(".")[0] for entry in os.listdir(os.path.join(lib, tree))
                        if not entry.endswith((".dist-info", ".egg-info", ".pth")) and entry != "__pycache__"})
        code = ("import importlib.util, sys\n"
                "print(' '.join(n for n in %r if n in sys.builtin_module_names or "
                "(importlib.util.find_spec(n) and 'site-packages' not in (importlib.util.find_spec(n).origin or ''))))"
                % names)
        result = subprocess.run([rpmroot.python(version), "-I", "-S", "-c", code], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True, check=True)
        assert result.stdout.split() == [], "%s shadows the standard library: %s" % (tree, result.stdout)


def test_a_wrong_interpreter_gets_one_line(installed):
    for version, expected in (("2.7", "ha-cfg: needs Python 3.6 or newer;"),
                              ("3.8", "ha-cfg: no libraries for Python 3.8 in ")):
        result = rpmroot.run_tool(installed, "ha-cfg", ["version"], version=version)
        assert result.returncode == 1 and result.stdout == ""
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(expected), result.stderr
    assert "carries Python 3.6, 3.11, 3.12, 3.13" in result.stderr


def test_a_missing_library_gets_one_line(installed, tmp_path):
    broken = str(tmp_path / "root")
    os.makedirs(os.path.join(broken, "usr/bin"))
    shutil.copy(os.path.join(installed, "usr/bin/ha-lizard"), os.path.join(broken, "usr/bin/ha-lizard"))
    shutil.copytree(os.path.join(installed, "opt"), os.path.join(broken, "opt"),
                    ignore=shutil.ignore_patterns("loguru"))
    result = rpmroot.run_tool(broken, "ha-lizard", ["run"], version="3.6")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "ha-lizard: libraries missing from %s/opt/ha-lizard/lib/python3.6: loguru; reinstall the ha-lizard RPM"
        % broken]
    shutil.rmtree(os.path.join(broken, "opt"))
    result = rpmroot.run_tool(broken, "ha-lizard", ["run"], version="3.6")
    assert result.returncode == 1
    assert result.stderr == ("ha-lizard: its libraries are missing (no /opt/ha-lizard/halizard); "
                             "reinstall the ha-lizard RPM\n")


def test_rpm_installs_into_a_root_and_a_reinstall_keeps_the_edited_configuration(built_rpm, tmp_path):
    """Real `rpm -i --root` (a scratch root with its own database), then `rpm -U --replacepkgs`."""
    root = str(tmp_path / "root")
    os.makedirs(root)

    def rpm(*args):
        result = subprocess.run(["rpm", "--root", root] + list(args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True)
        assert result.returncode == 0, result.stderr
        return result.stdout

    rpm("-i", "--nodeps", "--noscripts", built_rpm)
    assert rpm("-qc", "ha-lizard").split() == ["/etc/ha-lizard/ha-lizard.conf"]
    conf = os.path.join(root, "etc/ha-lizard/ha-lizard.conf")
    assert oct(os.stat(conf).st_mode & 0o777) == "0o600"
    with open(conf, "a") as handle:
        handle.write("MONITOR_DELAY=30\n")
    rpm("-U", "--replacepkgs", "--nodeps", "--noscripts", built_rpm)
    assert open(conf).read().endswith("MONITOR_DELAY=30\n")
    rpm("-e", "--nodeps", "--noscripts", "ha-lizard")
    assert not os.path.exists(os.path.join(root, "usr/bin/ha-cfg"))
    assert os.path.exists(conf + ".rpmsave")  # an edited configuration survives an erase too
