"""The witness wire protocol: one signed JSON line each way over TCP.

Why: the vote decides who may restart VMs, so a forged or replayed request
must never move it, and a forged answer must never make a host believe it
holds it. Every message carries an HMAC-SHA256 over its canonical JSON with
the shared secret (halizard.signing, which the peer query uses too). A
request also carries a wall-clock timestamp (refused outside WINDOW seconds) and a random nonce (refused when seen before inside
the window); the answer repeats the request's nonce, so an old answer
cannot be passed off as the reply to a new request.

    request:  {"v": 1, "op": "lease", "pool", "host", "lease", "ts", "nonce", "mac"}
    answer:   {"v": 1, "nonce", "granted", "holder", "lease", "wait", "why", "mac"}
"""
from halizard import signing
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
        return signing.read_secret(path)
    except signing.SignatureError as exc:
        raise ProtocolError(str(exc)) from None


def encode(secret, fields):
    """The signed line (bytes, newline-terminated) for `fields`."""
    return signing.sign(secret, fields, VERSION)


def decode(secret, line):
    """The fields of an authentic message; ProtocolError otherwise."""
    try:
        return signing.verify(secret, line, VERSION, MAX_LINE)
    except signing.SignatureError as exc:
        raise ProtocolError(str(exc)) from None


def split_address(text, port_zero=False):
    """`host:port` (IPv6 in brackets) -> (host, port); ValueError with the reason."""
    host, sep, port = str(text).rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not (0 if port_zero else 1) <= int(port) < 65536:
        raise ValueError("expected host:port, got %r" % (text,))
    return host, int(port)


new_nonce = signing.new_nonce


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
