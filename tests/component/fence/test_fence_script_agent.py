"""Custom fence agents run for real: success, failure, hang (with a grandchild),
garbage output, an agent ignoring SIGTERM, and path tricks that must be refused."""
import os
import stat
import time

import pytest

from halizard.fence import registry
from halizard.fence.base import FAILED, OFF, RESET, UNKNOWN, FenceConfigError, FenceSettings
from halizard.fence.script import ScriptAgent, resolve_agent
from halizard.probes.deadline import after
from waiting import wait_until

HOST = "11111111-2222-3333-4444-555555555555"
SECRET = "s3cr3t-Fence-Pw"


def write_agent(fence_dir, name, body, mode=0o755):
    folder = fence_dir / name
    folder.mkdir(exist_ok=True)
    path = folder / (name + ".sh")
    path.write_text("#!/bin/sh\n" + body)
    os.chmod(str(path), mode)
    return path


def settings(fence_dir, name, **kw):
    return FenceSettings(method=name, file_loc=str(fence_dir), password=SECRET, ip_address="127.0.0.1", **kw)


def gone(pid):
    """True when the process no longer runs (absent or a zombie nobody reaped yet)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


@pytest.fixture
def fence_dir(tmp_path):
    folder = tmp_path / "fence"
    folder.mkdir()
    os.chmod(str(folder), 0o755)
    return folder


def test_success_is_verified_and_gets_uuid_action_and_no_password(fence_dir, tmp_path):
    record = tmp_path / "args"
    write_agent(fence_dir, "POWEROFF",
                'echo "$1 $2 ip=$FENCE_IPADDRESS pw=${FENCE_PASSWD:-none}" > %s\necho fenced ok\nexit 0\n' % record)
    agent = registry.create_agent(settings(fence_dir, "POWEROFF"))
    assert isinstance(agent, ScriptAgent)
    result = agent.fence(HOST, "stop", after(10))
    assert result.verified and result.state == OFF
    assert "fenced ok" in result.detail
    assert record.read_text().split() == [HOST, "stop", "ip=127.0.0.1", "pw=none"]
    assert agent.fence(HOST, "reset", after(10)).state == RESET


def test_failure_exit_is_not_verified(fence_dir):
    write_agent(fence_dir, "FAILS", 'echo "cannot reach power strip" >&2\nexit 1\n')
    result = registry.create_agent(settings(fence_dir, "FAILS")).fence(HOST, "stop", after(10))
    assert not result.verified and result.state == FAILED
    assert "exit 1" in result.detail and "cannot reach power strip" in result.detail


def test_hang_with_grandchild_is_killed_as_a_group_at_the_deadline(fence_dir, tmp_path):
    pids = tmp_path / "pids"
    write_agent(fence_dir, "HANGS", 'sleep 300 &\necho "$$ $!" > %s\nsleep 300\nexit 0\n' % pids)
    agent = registry.create_agent(settings(fence_dir, "HANGS"))
    started = time.monotonic()
    result = agent.fence(HOST, "stop", after(1.5))
    took = time.monotonic() - started
    assert not result.verified and result.state == UNKNOWN and "timed out" in result.detail
    assert 1.4 <= took < 8
    for pid in map(int, pids.read_text().split()):
        assert wait_until(lambda pid=pid: gone(pid)), "pid %d survived the deadline" % pid


def test_agent_ignoring_sigterm_is_killed(fence_dir, tmp_path):
    marker = tmp_path / "pid"
    write_agent(fence_dir, "STUBBORN", "trap '' TERM\necho $$ > %s\nwhile :; do sleep 0.1; done\n" % marker)
    agent = ScriptAgent(settings(fence_dir, "STUBBORN"), term_grace=0.5)
    started = time.monotonic()
    result = agent.fence(HOST, "stop", after(1.0))
    assert not result.verified and result.state == UNKNOWN
    assert time.monotonic() - started < 8
    assert wait_until(lambda: gone(int(marker.read_text())))


def test_garbage_output_is_bounded_redacted_and_not_verified(fence_dir):
    body = ("head -c 200000 /dev/urandom\necho 'password is %s'\n"
            "printf '\\000\\001\\377 weird'\nexit 7\n" % SECRET)
    write_agent(fence_dir, "GARBAGE", body)
    result = registry.create_agent(settings(fence_dir, "GARBAGE")).fence(HOST, "stop", after(10))
    assert not result.verified and "exit 7" in result.detail
    assert SECRET not in result.detail
    assert len(result.detail) < 2000


def test_password_is_redacted_from_success_output(fence_dir, capfd):
    write_agent(fence_dir, "LEAKY", "echo 'using %s'\nexit 0\n" % SECRET)
    result = registry.create_agent(settings(fence_dir, "LEAKY")).fence(HOST, "stop", after(10))
    assert result.verified and SECRET not in result.detail and "***" in result.detail
    assert SECRET not in repr(settings(fence_dir, "LEAKY"))


def test_no_time_left_is_not_verified(fence_dir):
    write_agent(fence_dir, "QUICK", "exit 0\n")
    result = registry.create_agent(settings(fence_dir, "QUICK")).fence(HOST, "stop", time.monotonic() - 1)
    assert not result.verified


def test_status_is_unknown_for_custom_agents(fence_dir):
    write_agent(fence_dir, "QUICK", "exit 0\n")
    result = registry.create_agent(settings(fence_dir, "QUICK")).status(HOST, after(5))
    assert not result.verified and result.state == UNKNOWN


@pytest.mark.parametrize("name", ["../etc", "a/b", "", "x y", "..", ".", "name;rm", "NAME\n", "ünï"])
def test_bad_names_are_refused(fence_dir, name):
    with pytest.raises(FenceConfigError, match="invalid custom fence agent name"):
        resolve_agent(str(fence_dir), name)


def test_symlink_escaping_file_loc_is_refused(fence_dir, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "EVIL.sh"
    target.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(str(target), 0o755)
    os.symlink(str(outside), str(fence_dir / "EVIL"))
    with pytest.raises(FenceConfigError, match="outside"):
        resolve_agent(str(fence_dir), "EVIL")


def test_symlink_inside_file_loc_is_accepted(fence_dir):
    real = write_agent(fence_dir, "REAL", "exit 0\n")
    (fence_dir / "ALIAS").mkdir()
    os.symlink(str(real), str(fence_dir / "ALIAS" / "ALIAS.sh"))
    assert resolve_agent(str(fence_dir), "ALIAS") == os.path.realpath(str(real))


def test_missing_agent_is_a_config_error(fence_dir):
    with pytest.raises(FenceConfigError, match="No such file"):
        registry.create_agent(settings(fence_dir, "NOPE"))


def test_not_owned_by_root_is_refused(fence_dir):
    path = write_agent(fence_dir, "NOBODY", "exit 0\n")
    os.chown(str(path), 65534, 65534)
    with pytest.raises(FenceConfigError, match="not owned by root"):
        resolve_agent(str(fence_dir), "NOBODY")


@pytest.mark.parametrize("mode", [0o757, 0o775])
def test_world_or_group_writable_agent_is_refused(fence_dir, mode):
    write_agent(fence_dir, "OPEN", "exit 0\n", mode=mode)
    with pytest.raises(FenceConfigError, match="writable by group or others"):
        resolve_agent(str(fence_dir), "OPEN")


def test_world_writable_directory_is_refused(fence_dir):
    write_agent(fence_dir, "OPENDIR", "exit 0\n")
    os.chmod(str(fence_dir / "OPENDIR"), 0o777)
    with pytest.raises(FenceConfigError, match="directory .* writable"):
        resolve_agent(str(fence_dir), "OPENDIR")


def test_not_executable_or_not_regular_is_refused(fence_dir):
    write_agent(fence_dir, "NOEXEC", "exit 0\n", mode=0o644)
    with pytest.raises(FenceConfigError, match="not executable"):
        resolve_agent(str(fence_dir), "NOEXEC")
    (fence_dir / "ADIR").mkdir()
    (fence_dir / "ADIR" / "ADIR.sh").mkdir()
    with pytest.raises(FenceConfigError, match="not a regular file"):
        resolve_agent(str(fence_dir), "ADIR")


def test_agent_replaced_after_creation_is_rechecked(fence_dir):
    path = write_agent(fence_dir, "SWAPPED", "exit 0\n")
    agent = registry.create_agent(settings(fence_dir, "SWAPPED"))
    os.chmod(str(path), stat.S_IMODE(os.stat(str(path)).st_mode) | stat.S_IWOTH)
    result = agent.fence(HOST, "stop", after(5))
    assert not result.verified and "writable" in result.detail


def test_script_that_cannot_execute_is_not_verified(fence_dir):
    path = fence_dir / "NOSHEBANG"
    path.mkdir()
    script = path / "NOSHEBANG.sh"
    script.write_bytes(b"\x7fELF garbage")
    os.chmod(str(script), 0o755)
    result = registry.create_agent(settings(fence_dir, "NOSHEBANG")).fence(HOST, "stop", after(5))
    assert not result.verified and result.state == FAILED
