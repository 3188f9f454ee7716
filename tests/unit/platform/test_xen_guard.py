"""The real-dom0 platform refuses to touch a machine that is not a Xen dom0 at its real root.

A recording stand-in replaces the command runner, so even a broken guard could never
reboot or destroy anything on the machine running the tests.
"""
import pytest

from halizard.platform import PlatformError, get_platform
from halizard.platform import xen


@pytest.fixture
def commands(monkeypatch):
    ran = []
    monkeypatch.setattr(xen, "run", lambda argv, timeout=xen.COMMAND_TIMEOUT: ran.append(argv) or "")
    return ran


def test_a_test_root_is_never_a_dom0(tmp_path):
    capabilities = tmp_path / "capabilities"
    capabilities.write_text("control_d\n")
    assert not xen.is_real_dom0(str(tmp_path), capabilities=str(capabilities))


def test_the_real_root_counts_only_when_the_kernel_says_control_domain(tmp_path):
    capabilities = tmp_path / "capabilities"
    assert not xen.is_real_dom0("/", capabilities=str(capabilities))  # no Xen at all
    capabilities.write_text("\n")
    assert not xen.is_real_dom0("/", capabilities=str(capabilities))  # a domU
    capabilities.write_text("control_d\n")
    assert xen.is_real_dom0("/", capabilities=str(capabilities))


@pytest.mark.parametrize("action", [
    lambda p: p.reboot(),
    lambda p: p.restart_toolstack(),
    lambda p: p.destroy_domain("0e4f6d0c-1111-2222-3333-444455556666"),
])
def test_host_actions_are_refused_off_a_dom0(tmp_path, commands, action):
    platform = get_platform(str(tmp_path))  # no simulator marker: the real-dom0 platform
    assert isinstance(platform, xen.XenPlatform)
    with pytest.raises(PlatformError, match="not the root of a Xen dom0"):
        action(platform)
    assert commands == []


def test_the_self_fence_reboot_is_immediate_then_sysrq(tmp_path, monkeypatch):
    # failed before: `reboot -f` (asks systemd, waits for units), no fallback when it fails
    ran = []

    def failing(argv, timeout=xen.COMMAND_TIMEOUT):
        ran.append(argv)
        raise PlatformError("reboot exited 1: cannot reboot")
    monkeypatch.setattr(xen, "run", failing)
    monkeypatch.setattr(xen, "is_real_dom0", lambda root: True)   # recorded only: nothing real runs
    trigger = tmp_path / "sysrq-trigger"
    monkeypatch.setattr(xen, "SYSRQ_TRIGGER", str(trigger))
    with pytest.raises(PlatformError, match="still runs"):
        xen.XenPlatform("/").reboot()
    assert ran[0][1:] == ["-f", "-f"]
    assert trigger.read_text() == "b"
