"""pool.*: emergency transition of a slave to master, recover_slaves.

Why: promoting a slave when the master is dead is the riskiest step of an HA
manager; the simulator gives it the real shape: the call returns, xapi goes
down for `fuse` seconds and comes back as master of its own copy of the
database, and the other hosts follow only when `recover_slaves` reaches them.
"""
from halizard.sim.api.errors import XapiError


def emergency_transition_to_master(call):
    call.pool.begin_emergency_transition(call.host_uuid)
    return ""


def emergency_reset_master(call, master_address):
    pool = call.pool
    target = None
    for host_uuid, host in pool.host_specs.items():
        if host.address == master_address:
            target = host_uuid
    if target is None or target == call.host_uuid:
        raise XapiError("HOST_UNKNOWN", master_address)
    if pool.role[call.host_uuid] == "master":
        raise XapiError("OPERATION_NOT_ALLOWED", "this host is a master; use pool.recover_slaves on the new master")
    pool.point_at(call.host_uuid, target)
    return ""


def recover_slaves(call):
    pool = call.pool
    if pool.role[call.host_uuid] != "master":
        raise XapiError("HOST_IS_SLAVE", pool.host_specs[pool.master_of[call.host_uuid]].address)
    return pool.recover_slaves(call.host_uuid)


def enable_ha(call, heartbeat_srs, configuration):
    """Native XAPI HA on (the HA manager must then stand down): only the flag is simulated."""
    for pool_ref in call.db.refs("pool"):
        if call.db.field("pool", pool_ref, "ha_enabled"):
            raise XapiError("HA_IS_ENABLED")
        call.db.set("pool", pool_ref, ha_enabled=True, ha_configuration=dict(configuration))
    return ""


def disable_ha(call):
    for pool_ref in call.db.refs("pool"):
        if not call.db.field("pool", pool_ref, "ha_enabled"):
            raise XapiError("HA_NOT_ENABLED")
        call.db.set("pool", pool_ref, ha_enabled=False, ha_configuration={})
    return ""


def sync_database(call):
    return ""


def register(reg):
    reg.explicit("pool", "emergency_transition_to_master", emergency_transition_to_master, slave_ok=True)
    reg.explicit("pool", "emergency_reset_master", emergency_reset_master, slave_ok=True)
    reg.explicit("pool", "recover_slaves", recover_slaves)
    reg.explicit("pool", "sync_database", sync_database)
    reg.explicit("pool", "enable_ha", enable_ha)
    reg.explicit("pool", "disable_ha", disable_ha)
