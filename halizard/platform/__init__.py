"""What touches the host itself, chosen per root: simulated or real dom0.

`get_platform(root)` returns SimPlatform when halizard.hostinfo says the
root is a simulated host (its marker exists), else XenPlatform, which acts
only on a real dom0 (xen.is_real_dom0).
"""
from halizard import hostinfo, paths
from halizard.platform.base import DiskHealth, Platform, PlatformError, ProbeTarget

__all__ = ["get_platform", "DiskHealth", "Platform", "PlatformError", "ProbeTarget"]


def get_platform(root=None):
    """The Platform for the host whose files live under `root` (default: HALIZARD_ROOT or /)."""
    resolved = paths.resolve_root(root)
    if hostinfo.is_simulated(resolved):
        from halizard.platform.sim import SimPlatform  # lazy: a real dom0 never imports the simulator

        return SimPlatform(resolved)
    from halizard.platform.xen import XenPlatform  # lazy: nor does a simulated host import the dom0 platform

    return XenPlatform(resolved)
