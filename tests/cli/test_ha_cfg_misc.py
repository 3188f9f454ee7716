"""ha-cfg subcommands that need no pool, plus the alert delegations and the override view."""
import io
import json
import os


from halizard.cli import ha_cfg

POOL = (2, 2)  # the pool of the tests that need one (`inserted`)


def run(root, *args):
    out, err = io.StringIO(), io.StringIO()
    status = ha_cfg.main((["--root", root] if root else []) + list(args), stdin=io.StringIO(""),
                         stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_version_and_help():
    from halizard import __version__
    assert run(None, "version") == (0, "Version %s\n" % __version__, "")
    status, out, _err = run(None, "help")
    assert status == 0
    for name in (c.name for c in ha_cfg.COMMANDS):
        assert name in out
    assert "exit status" in out
    status, out, _err = run(None)
    assert status == 2 and "usage" in out


def test_usage_errors_are_one_line_exit_2():
    for argv in (["set-vm-ha", "only-a-name"], ["backup"], ["get", "--bogus"], ["log", "-n", "many"]):
        status, _out, err = run(None, *argv)
        assert status == 2, argv
        assert len(err.strip().splitlines()) == 1, err


def test_a_root_without_the_local_xapi_socket_is_one_clear_line(tmp_path):
    """Not a dom0 (or xapi stopped): no traceback, one line naming the socket, exit 3, nothing written."""
    (tmp_path / "etc" / "xensource").mkdir(parents=True)
    (tmp_path / "etc" / "xensource" / "pool.conf").write_text("master\n")
    socket_path = str(tmp_path / "var" / "lib" / "xcp" / "xapi")
    for argv in (["get"], ["set", "MAIL_ON", "0"], ["ha-status"]):
        status, out, err = run(str(tmp_path), *argv)
        assert status == 3, (argv, err)
        assert err == "ha-cfg: cannot reach the local xapi at %s: No such file or directory\n" % socket_path, err
        assert out == ""
    assert not (tmp_path / "var" / "lib" / "xcp").exists()


def test_log_from_files_under_the_root(tmp_path):
    log_dir = tmp_path / "var" / "log"
    log_dir.mkdir(parents=True)
    (log_dir / "messages").write_text(
        "Nov 29 10:00:00 h1 sshd[1]: unrelated\n"
        "Nov 29 10:00:01 h1 ha-lizard[2]: check_xapi: master answers\n"
        "Nov 29 10:00:02 h1 ha-lizard[2]: vm_mon: vm001 running\n")
    status, out, _err = run(str(tmp_path), "log", "--no-follow")
    assert status == 0
    assert out.splitlines() == ["Nov 29 10:00:01 h1 ha-lizard[2]: check_xapi: master answers",
                                "Nov 29 10:00:02 h1 ha-lizard[2]: vm_mon: vm001 running"]
    status, out, _err = run(str(tmp_path), "log", "--no-follow", "-n", "1")
    assert out.splitlines() == ["Nov 29 10:00:02 h1 ha-lizard[2]: vm_mon: vm001 running"]
    status, _out, err = run(str(tmp_path / "empty"), "log", "--no-follow")
    assert status == 1 and "no ha-lizard log" in err


def test_effective_view_and_bad_override_file(inserted):
    root = inserted.host("host2")["root"]
    conf = os.path.join(root, "etc/ha-lizard/ha-lizard.conf")
    with open(conf, "w") as handle:
        handle.write("# host2 only\nSLAVE_VM_STAT=1\nLOG_check_xapi=0\n")
    status, out, err = run(root, "get", "--effective", "--json")
    assert status == 0, err
    data = json.loads(out)
    assert data["SLAVE_VM_STAT"] == {"value": 1, "source": "override"}
    assert data["LOG_check_xapi"] == {"value": 0, "source": "override"}
    assert data["MONITOR_DELAY"] == {"value": 15, "source": "pool"}
    assert data["FENCE_PASSWD"]["source"] == "pool"
    status, out, _err = run(root, "get", "--effective", "slave_vm_stat")
    assert "override" in out
    with open(conf, "w") as handle:
        handle.write("# host2 only\nSLAVE_VM_STAT=1\nSLAVE_VM_STAT=maybe\n")
    status, _out, err = run(root, "get", "--effective")
    assert status == 1
    assert "line 3" in err and "SLAVE_VM_STAT" in err and "previous values" in err
    # The service's view keeps the last good value.
    from halizard.xapi.pool_config import load_effective
    config = load_effective(root)
    assert config.pool_status == "live"
    assert config.get("SLAVE_VM_STAT") == 1 and config.override_error
    os.unlink(conf)


def test_alert_subcommands_are_delegated(inserted):
    root = inserted.host("host2")["root"]
    status, out, err = run(root, "show-alerts", "--json")
    assert status == 0, err
    json.loads(out)
    status, _out, err = run(root, "clear-alerts")
    assert status == 0, err
    # a mail server that refuses: one clear line, non-zero, never a traceback
    assert run(root, "set", "smtp_port", "9")[0] == 0
    status, _out, err = run(root, "email")
    assert status != 0
    assert "Traceback" not in err and err.strip()


def test_reference_documents_every_subcommand():
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(top, "docs", "configuration.md"), encoding="utf-8") as handle:
        text = handle.read()
    for name in (c.name for c in ha_cfg.COMMANDS):
        assert "`%s" % name in text or "/ `%s" % name in text, name
