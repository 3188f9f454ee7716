"""halizard.hostinfo is the one reader of the simulator's marker; the platform and $HOSTNAME ask it."""
import json
import socket

import pytest

from halizard import hostinfo
from halizard.platform import PlatformError, get_platform
from halizard.platform.xen import XenPlatform


def _mark(root, text):
    (root / "etc/ha-lizard").mkdir(parents=True, exist_ok=True)
    (root / "etc/ha-lizard/sim-host.json").write_text(text)


def test_no_marker_is_a_real_dom0_root_with_the_kernels_name(tmp_path):
    assert hostinfo.sim_marker(str(tmp_path)) is None and not hostinfo.is_simulated(str(tmp_path))
    assert isinstance(get_platform(str(tmp_path)), XenPlatform)
    assert hostinfo.local_hostname(str(tmp_path)) == socket.gethostname()


def test_marker_names_the_host(tmp_path):
    _mark(tmp_path, json.dumps({"name_label": "hostA"}))
    assert hostinfo.is_simulated(str(tmp_path)) and hostinfo.sim_marker(str(tmp_path)) == {"name_label": "hostA"}
    assert hostinfo.local_hostname(str(tmp_path)) == "hostA"


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_a_broken_marker_is_one_clear_error_never_the_real_platform(tmp_path, text):
    _mark(tmp_path, text)
    with pytest.raises(hostinfo.HostInfoError):
        hostinfo.sim_marker(str(tmp_path))
    with pytest.raises(PlatformError) as refused:
        get_platform(str(tmp_path))
    assert "sim-host.json" in str(refused.value) and "\n" not in str(refused.value)
    assert hostinfo.local_hostname(str(tmp_path)) == socket.gethostname()
