"""The witness wire protocol: one signed JSON line each way over TCP.

Why: the vote decides who may restart VMs, so a forged or replayed request
must never move it, and a forged answer must never make a host believe it
holds it. Every message carries an HMAC-SHA256 over its canonical JSON with
the shared secret. A request also carries a wall-clock timestamp (refused
outside WINDOW seconds) and a random nonce (refused when seen before inside
the window); the answer repeats the request's nonce, so an old answer
cannot be passed off as the reply to a new request.

    request:  {"v": 1, "op": "lease", "pool", "host", "lease", "ts", "nonce", "mac"}
    answer:   {"v": 1, "nonce", "granted", "holder", "lease", "wait", "why", "mac"}
"""
import hashlib
import hmac
import json
import os

from halizard.probes.deadline import remaining

VERSION = 1
MAX_LINE = 4096
WINDOW = 30.0  # seconds a request's timestamp may differ from the witness's clock
MAX_LEASE = 60.0


class ProtocolError(Exception):
    """A message that is not a valid, authentic protocol message; the text says why."""


def read_secret(path):
    """The shared secret from a file (surrounding whitespace ignored); ProtocolError when unusable."""
    try:
        with open(path, "rb") as handle:
            secret = handle.read().strip()
    except OSError as exc:
        raise ProtocolError("cannot read secret file %s: %s" % (path, exc.strerror or exc)) from None
    if not secret:
        raise ProtocolError("secret file %s is empty" % path)
    return secret


def _mac(secret, fields):
    body = json.dumps({k: v for k, v in fields.items() if k != "mac"}, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def encode(secret, fields):
    """The signed line (bytes, newline-terminated) for `fields`."""
    signed = dict(fields, v=VERSION)
    signed["mac"] = _mac(secret, signed)
    return (json.dumps(signed, sort_keys=True) + "\n").encode("utf-8")


def decode(secret, line):
    """The fields of an authentic message; ProtocolError otherwise."""
    if len(line) > MAX_LINE:
        raise ProtocolError("message longer than %d bytes" % MAX_LINE)
    try:
        fields = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("not a JSON message") from None
    if not isinstance(fields, dict) or not isinstance(fields.get("mac"), str):
        raise ProtocolError("not a signed message")
    if not hmac.compare_digest(fields["mac"], _mac(secret, fields)):
        raise ProtocolError("authentication failed (the shared secrets differ)")
    if fields.get("v") != VERSION:
        raise ProtocolError("protocol version %r, expected %d" % (fields.get("v"), VERSION))
    return fields


def split_address(text, port_zero=False):
    """`host:port` (IPv6 in brackets) -> (host, port); ValueError with the reason."""
    host, sep, port = str(text).rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not (0 if port_zero else 1) <= int(port) < 65536:
        raise ValueError("expected host:port, got %r" % (text,))
    return host, int(port)


def new_nonce():
    return os.urandom(16).hex()


def lease_request(pool, host, lease, now_wall, nonce):
    return {"op": "lease", "pool": pool, "host": host, "lease": float(lease), "ts": float(now_wall),
            "nonce": nonce}


def check_request(fields):
    """(pool, host, lease) of a lease request, or ProtocolError naming the bad field."""
    if fields.get("op") != "lease":
        raise ProtocolError("unknown operation %r" % (fields.get("op"),))
    for name in ("pool", "host", "nonce"):
        value = fields.get(name)
        if not isinstance(value, str) or not value or len(value) > 200:
            raise ProtocolError("bad %s" % name)
    for name in ("lease", "ts"):
        if not isinstance(fields.get(name), (int, float)) or isinstance(fields.get(name), bool):
            raise ProtocolError("bad %s" % name)
    if not 0 < fields["lease"] <= MAX_LEASE:
        raise ProtocolError("lease %r outside (0, %g]" % (fields["lease"], MAX_LEASE))
    return fields["pool"], fields["host"], float(fields["lease"])


class ReplayGuard(object):
    """Refuses requests outside the timestamp window and nonces already seen inside it."""

    def __init__(self, window=WINDOW):
        self.window = window
        self.seen = {}  # nonce -> ts

    def admit(self, nonce, ts, now_wall):
        """None when fresh (and remembers it), else why it is refused."""
        if abs(now_wall - ts) > self.window:
            return "timestamp %+.0fs from the witness's clock (window %gs)" % (ts - now_wall, self.window)
        for old in [n for n, t in self.seen.items() if abs(now_wall - t) > self.window]:
            del self.seen[old]
        if nonce in self.seen:
            return "replayed request (nonce seen before)"
        self.seen[nonce] = ts
        return None


def read_line(sock, deadline):
    """Bytes up to the first newline, all read before `deadline` (monotonic); ProtocolError when too
    long or cut short, socket.timeout when late."""
    data = b""
    while b"\n" not in data:
        sock.settimeout(max(0.001, remaining(deadline)))
        chunk = sock.recv(MAX_LINE + 1 - len(data))
        if not chunk:
            raise ProtocolError("connection closed before a full line")
        data += chunk
        if len(data) > MAX_LINE:
            raise ProtocolError("message longer than %d bytes" % MAX_LINE)
    return data.split(b"\n", 1)[0]
