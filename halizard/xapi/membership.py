"""The membership record in the pool database (core.membership): read and write it.

Why: every host must judge quorum from the same membership, so it lives in
the pool other_config (key `ha-lizard-membership`, beside the other
ha-lizard keys), written only by the master.
"""
from halizard.xapi.act_host import _set_other_config

KEY = "ha-lizard-membership"


def read_text(session):
    """The stored membership text ('' when the pool never wrote one)."""
    pool = session.xenapi.pool
    return (pool.get_other_config(pool.get_all()[0]) or {}).get(KEY, "")


def write_text(session, text):
    """Store the membership text (core.membership.format_text)."""
    pool = session.xenapi.pool
    _set_other_config(pool, pool.get_all()[0], KEY, text)
