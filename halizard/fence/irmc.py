"""FENCE_METHOD=IRMC: Fujitsu iRMC fenced over IPMI 2.0 lanplus (see halizard.fence.ipmi).

Why: the old product counted an unreachable iRMC as fenced. iRMC speaks
IPMI over LAN; the map is `<FENCE_FILE_LOC>/IRMC/IRMC.hosts`,
`<host uuid>:<iRMC address>`. FENCE_USER defaults to iRMC's factory account
`admin`.
"""
from halizard.fence.ipmi import IpmiAgent


class IrmcAgent(IpmiAgent):
    name = "IRMC"
    map_method = "IRMC"
    default_user = "admin"


def create(settings):
    return IrmcAgent(settings)
