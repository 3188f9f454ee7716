"""POOL "fencing": nothing is done to the host's power, so nothing is proven.

Why: the old product let POOL count as a successful fence and then restarted
VMs of a host that might still run them (split brain). Here POOL always
answers `verified=False, state="unproven"` and the agent says
`proves_death = False`. How the core may still recover such a host (the
self-fencing deadline rule) is written in docs/fencing.md, section "POOL".
"""
from halizard.fence.base import UNKNOWN, UNPROVEN, FenceAgent, FenceResult, check_action


class PoolAgent(FenceAgent):
    """The no-op agent: an honest "I did nothing"."""

    name = "POOL"
    proves_death = False

    def fence(self, host_uuid, action, deadline):
        check_action(action)
        return FenceResult.unproven(
            UNPROVEN, "POOL fencing does not touch host %s's power; its death is not proven" % host_uuid)

    def status(self, host_uuid, deadline):
        return FenceResult.unproven(UNKNOWN, "POOL fencing cannot read host %s's power state" % host_uuid)


def create(settings):
    return PoolAgent(settings)
