"""What touches the host itself, chosen per root: simulated or real dom0.

`get_platform(root)` returns SimPlatform when <root>/etc/ha-lizard/sim-host.json
exists (a simulated host), else XenPlatform.
"""
import os

from halizard import paths
from halizard.platform.base import DiskHealth, Platform, PlatformError, ProbeTarget

__all__ = ["get_platform", "DiskHealth", "Platform", "PlatformError", "ProbeTarget"]


def get_platform(root=None):
    """The Platform for the host whose files live under `root` (default: HALIZARD_ROOT or /)."""
    resolved = paths.resolve_root(root)
    if os.path.exists(paths.under(resolved, paths.SIM_HOST_FILE)):
        from halizard.platform.sim import SimPlatform

        return SimPlatform(resolved)
    from halizard.platform.xen import XenPlatform

    return XenPlatform(resolved)
