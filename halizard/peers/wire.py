"""The peer query's datagrams: one signed JSON datagram each way over UDP.

Why: a takeover is held or released by these answers, so a forged or replayed
answer must never release one. Both messages are signed (halizard.signing)
with a key derived from the pool secret every member already holds
(/etc/xensource/ptoken: xapi writes the master's secret on every member when
it joins, and rewrites it on all of them when it is rotated): nothing new to
distribute, nothing secret on the wire or in a log. The query is read-only
and idempotent, so a replayed query only gets a fresh answer; the answer
repeats the query's random nonce and names the answering host, so an old
answer cannot pass for the reply to a new query.

    query:   {"v": 1, "op": "master?", "nonce", "from", "mac"}
    answer:  {"v": 1, "op": "master", "nonce", "host", "role", "master", "age", "vote", "mac"}

"vote" (whether the answering host's membership copy gives it a vote) came later; an answer
without it counts as voting, so a host that cannot say is never skipped as the takeover slave.
"""
import hashlib
import hmac
import json

from halizard import paths, signing
from halizard.core.peers import PeerAnswer

VERSION = 1
MAX_DATAGRAM = 1024
_CONTEXT = b"ha-lizard peer query v1"  # the derived key is used for nothing else
QUERY, ANSWER = "master?", "master"


class WireError(Exception):
    """A datagram that is not a valid, authentic peer message; the text says why."""


def pool_key(root=None):
    """The query's key, derived from this host's pool secret; WireError (one line) when unreadable."""
    path = paths.under(root, paths.POOL_SECRET)
    try:
        secret = signing.read_secret(path)
    except signing.SignatureError as exc:
        raise WireError(str(exc)) from None
    return hmac.new(secret, _CONTEXT, hashlib.sha256).digest()


def _decode(key, data, op):
    try:
        fields = signing.verify(key, data, VERSION, MAX_DATAGRAM)
    except signing.SignatureError as exc:
        raise WireError(str(exc)) from None
    if fields.get("op") != op:
        raise WireError("not a %r message" % op)
    nonce = fields.get("nonce")
    if not isinstance(nonce, str) or not 0 < len(nonce) <= 64:
        raise WireError("bad nonce")
    return fields


def query(key, nonce, self_uuid):
    return signing.sign(key, {"op": QUERY, "nonce": nonce, "from": str(self_uuid)}, VERSION)


def read_query(key, data):
    """The nonce of an authentic query; WireError otherwise."""
    return _decode(key, data, QUERY)["nonce"]


def answer(key, nonce, host_uuid, is_master, master, age, votes=True):
    """The signed answer: this host, whether it is master, the master it follows, the age of its last
    read, whether it votes."""
    return signing.sign(key, {"op": ANSWER, "nonce": nonce, "host": host_uuid,
                              "role": "master" if is_master else "slave", "master": master or "",
                              "age": None if age is None else round(float(age), 3), "vote": bool(votes)},
                        VERSION)


def peek_nonce(data):
    """The nonce a datagram claims, unverified (None when it has none): which query it may answer."""
    try:
        fields = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    nonce = fields.get("nonce") if isinstance(fields, dict) else None
    return nonce if isinstance(nonce, str) else None


def read_answer(key, data, nonce, host_uuid):
    """The PeerAnswer of an authentic answer to query `nonce` from `host_uuid`; WireError otherwise."""
    fields = _decode(key, data, ANSWER)
    if fields["nonce"] != nonce:
        raise WireError("the answer is not for this query (replayed?)")
    if fields.get("host") != host_uuid:
        raise WireError("the answer comes from %r, not %s" % (fields.get("host"), host_uuid))
    role, master, age = fields.get("role"), fields.get("master"), fields.get("age")
    if role not in ("master", "slave") or not isinstance(master, str):
        raise WireError("bad role or master")
    if age is not None and (isinstance(age, bool) or not isinstance(age, (int, float)) or age < 0):
        raise WireError("bad age")
    votes = fields.get("vote", True)
    if not isinstance(votes, bool):
        raise WireError("bad vote")
    return PeerAnswer(host_uuid=host_uuid, is_master=role == "master", master=master,
                      master_age=None if age is None else float(age), votes=votes)
