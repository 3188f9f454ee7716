"""FENCE_METHOD=ILO: HP iLO fenced over IPMI 2.0 lanplus (see halizard.fence.ipmi).

Why: the old product drove iLO through scripted SSH menus and trusted them.
iLO 3 and later speak IPMI over LAN (enable "IPMI/DCMI over LAN" in iLO);
the map is `<FENCE_FILE_LOC>/ILO/ILO.hosts`, `<host uuid>:<iLO address>`.
FENCE_USER defaults to iLO's factory account `Administrator`.
"""
from halizard.fence.ipmi import IpmiAgent


class IloAgent(IpmiAgent):
    name = "ILO"
    map_method = "ILO"
    default_user = "Administrator"


def create(settings):
    return IloAgent(settings)
