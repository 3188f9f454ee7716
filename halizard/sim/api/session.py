"""session.*: logins on master and slaves, logouts.

Why: `login_with_password` on a slave failing with `HOST_IS_SLAVE [master
address]` is the cheapest proof of a live xapi an HA manager has, and
`slave_local_login_with_password` is how a slave acts when the master is gone.
"""
import hmac
import time
import uuid as uuidlib

from halizard.sim.api import unix_socket
from halizard.sim.api.errors import XapiError
from halizard.sim.db import NULL_REF, now_datetime

SUPERUSER = "root"
SESSIONS_PER_ORIGINATOR = 500  # XAPI destroys the oldest beyond this (clients that never log out)


def _check_password(call, uname, pwd):
    expected = call.pool.spec.password
    if uname != SUPERUSER or not isinstance(pwd, str) or not hmac.compare_digest(pwd.encode(), expected.encode()):
        raise XapiError("SESSION_AUTHENTICATION_FAILED", uname, "Authentication failure")


def login_with_password(call, uname, pwd, version="1.0", originator=""):
    pool = call.pool
    if call.preauth:
        # The Unix socket: local root, no password (xapi_session.ml); a slave keeps
        # the session in its master's database, so it needs the master to answer.
        owner = unix_socket.database_owner(pool, call.host_uuid)
        return _new_session(pool, pool.dbs[owner], call.host_uuid, uname, originator)
    if pool.role[call.host_uuid] != "master":
        raise XapiError("HOST_IS_SLAVE", pool.host_specs[pool.master_of[call.host_uuid]].address)
    _check_password(call, uname, pwd)
    return _new_session(pool, pool.dbs[call.host_uuid], call.host_uuid, uname, originator)


def _new_session(pool, db, host_uuid, uname, originator):
    same = [ref for ref, rec in db.items("session") if rec["originator"] == str(originator)]
    for ref in same[:max(0, len(same) - SESSIONS_PER_ORIGINATOR + 1)]:
        db.destroy("session", ref)
    return db.create("session", {
        "this_host": pool.host_refs[host_uuid], "this_user": NULL_REF,
        "last_active": now_datetime(time.time()), "pool": False, "is_local_superuser": True,
        "auth_user_name": uname, "originator": str(originator), "validation_time": now_datetime(time.time()),
    })


def slave_local_login_with_password(call, uname, pwd):
    if not call.preauth:
        _check_password(call, uname, pwd)
    ref = "OpaqueRef:%s" % uuidlib.uuid4()
    call.pool.local_sessions[ref] = call.host_uuid
    return ref


def logout(call):
    if call.local:
        call.pool.local_sessions.pop(call.session, None)
    elif call.db is not None and call.db.exists("session", call.session):
        call.db.destroy("session", call.session)
    return ""


def local_logout(call):
    return logout(call)


def register(reg):
    reg.explicit("session", "login_with_password", login_with_password, slave_ok=True, min_params=2)
    reg.explicit("session", "slave_local_login_with_password", slave_local_login_with_password, slave_ok=True)
    reg.explicit("session", "logout", logout, slave_ok=True)
    reg.explicit("session", "local_logout", local_logout, slave_ok=True)
