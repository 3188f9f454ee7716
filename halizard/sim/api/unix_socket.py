"""What a host's xapi does with a call that arrived on its Unix socket (/var/lib/xcp/xapi).

Why: ha-lizard talks to its own host only through that socket, so the
simulator must treat it as xapi does (api_server.ml `callback1`,
xapi_session.ml `login_with_password`; halizard/sim/INTERFACE.md "The local
socket"): the caller is local root, no password is asked; on a slave every
call but the logins and the emergency calls is forwarded to the master over
the pool's own link, and waits (no answer) while the master does not answer.
"""
from halizard.sim.pool_errors import XapiUnavailable

# Datamodel.emergency_calls (the ones the simulator serves) and Datamodel.whitelist.
EMERGENCY_CALLS = frozenset([
    "pool.emergency_reset_master", "pool.emergency_transition_to_master",
    "session.slave_local_login_with_password", "session.local_logout",
])
NOT_FORWARDED = EMERGENCY_CALLS | frozenset(["session.login_with_password"])


def _unavailable():
    return XapiUnavailable("master")


def database_owner(pool, host_uuid):
    """The host whose database `host_uuid`'s xapi writes to; raises XapiUnavailable('master') when a
    slave's master does not answer it (the real slave keeps retrying: its caller sees no answer)."""
    if pool.role[host_uuid] == "master":
        return host_uuid
    master = pool.master_of[host_uuid]
    if pool.role.get(master) != "master" or master not in pool.dbs or not pool.world.answers(host_uuid, master):
        raise _unavailable()
    return master


def serve(pool, host_uuid, method, params):
    """The value of `method(*params)` arriving on `host_uuid`'s socket (XapiError/XapiUnavailable otherwise)."""
    address = pool.host_specs[host_uuid].address
    with pool._lock:
        forward = pool.role[host_uuid] != "master" and method not in NOT_FORWARDED
        target = database_owner(pool, host_uuid) if forward else host_uuid
    if forward:
        return pool._dispatch(target, method, params, address)
    return pool._dispatch(host_uuid, method, params, address, preauth=True)


PASSWORD_LOGINS = ("session.login_with_password", "session.slave_local_login_with_password")


def note_clear_password(pool, host_uuid, method, params, client_addr):
    """Record a login over the host's TCP (plain HTTP) endpoint that carries a password (never the password).

    Why: ha-lizard must never send one in clear (`sim status --json`
    "clear_password_logins", which tests expect empty for the product).
    """
    if method in PASSWORD_LOGINS and len(params) >= 2 and isinstance(params[1], str) and params[1]:
        with pool._lock:
            pool.clear_password_logins.append({
                "host": pool.host_specs[host_uuid].name_label, "method": method, "from": str(client_addr),
                "originator": str(params[3]) if len(params) >= 4 else ""})
