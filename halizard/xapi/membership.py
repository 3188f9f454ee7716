"""The membership record in the pool database (core.membership): read and write it.

Why: every host must judge quorum from the same membership, so it lives in
the pool other_config (key `ha-lizard-membership`, beside the other
ha-lizard keys), written only by the master.
"""
from halizard.xapi.act_host import _set_other_config

KEY = "ha-lizard-membership"
ACK_KEY = "ha-lizard-membership-epoch"  # host other_config: the epoch that host last read


def read_text(session):
    """The stored membership text ('' when the pool never wrote one)."""
    pool = session.xenapi.pool
    return (pool.get_other_config(pool.get_all()[0]) or {}).get(KEY, "")


def write_text(session, text):
    """Store the membership text (core.membership.format_text)."""
    pool = session.xenapi.pool
    _set_other_config(pool, pool.get_all()[0], KEY, text)


def read_acks(session):
    """{host uuid: the membership epoch it acknowledged (-1: none or unreadable)}."""
    acks = {}
    for rec in session.xenapi.host.get_all_records().values():
        value = (rec.get("other_config") or {}).get(ACK_KEY, "")
        acks[rec.get("uuid")] = int(value) if str(value).isdigit() else -1
    return acks


def write_ack(session, host_uuid, epoch):
    """Record in the host's other_config that it read membership `epoch`."""
    host = session.xenapi.host
    _set_other_config(host, host.get_by_uuid(host_uuid), ACK_KEY, str(epoch))
