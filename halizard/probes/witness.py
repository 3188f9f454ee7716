"""Ask the witness for its vote (a lease), within a deadline.

Why: the witness is one more machine that can be down, slow, misconfigured
or hostile. Whatever goes wrong (unreachable, a hang, garbage, a wrong
secret, a replayed or foreign answer) counts as no vote, with one clear log
line, and the request never outlives its deadline. A granted lease is held
from the moment the request was sent, so the host always believes less than
the witness granted (halizard.core.witness).
"""
import socket
from dataclasses import dataclass
from typing import Optional

from loguru import logger

from halizard.probes.clock import Clocks
from halizard.probes.deadline import remaining
from halizard.witness import protocol

log = logger.bind(function="check_quorum")


@dataclass(frozen=True)
class Vote:
    """The outcome of one lease request: held_until is a monotonic time, None without the vote."""

    held_until: Optional[float]
    holder: str
    why: str
    answered: bool = False  # the witness gave a valid answer (granted or leased to another)
    free_in: Optional[float] = None  # refused: seconds until another host may get the vote (as the witness said)


@dataclass(frozen=True)
class Witness:
    """Which witness to ask and how: its address (host:port), the shared secret (bytes), and this
    host's source address (None: the system's choice)."""

    address: str
    secret: bytes
    source: Optional[str] = None


def ask(witness, pool, host, lease, deadline, clocks=Clocks, quiet=False):
    """The Vote for `host` of `pool` asking the `witness` (a Witness) for `lease` seconds.

    `clocks.monotonic` times the lease, `clocks.wall` stamps the request (the witness's replay guard).
    A failure is one WARNING line, unless `quiet` (a caller that asks every second logs changes only)."""
    address, secret = witness.address, witness.secret
    say = (lambda *args: None) if quiet else log.warning
    sent = clocks.monotonic()
    nonce = protocol.new_nonce()
    try:
        target = protocol.split_address(address)
        request = protocol.lease_request(pool, host, lease, clocks.wall(), nonce)
        answer = _exchange(target, protocol.encode(secret, request), deadline, witness.source)
        fields = protocol.decode(secret, answer)
    except (ValueError, OSError, protocol.ProtocolError) as exc:
        why = _reason(exc)
        say("witness {}: no vote: {}", address, why)
        return Vote(None, "", why)
    if fields.get("nonce") != nonce:
        say("witness {}: no vote: the answer is not for this request (replayed?)", address)
        return Vote(None, "", "answer for another request")
    if fields.get("error"):
        say("witness {}: no vote: the witness refused the request: {}", address, fields["error"])
        return Vote(None, "", "refused: %s" % fields["error"])
    granted = fields.get("granted") is True and isinstance(fields.get("lease"), (int, float))
    if not granted:
        wait = fields.get("wait")
        return Vote(None, str(fields.get("holder") or ""), str(fields.get("why") or "not granted"), True,
                    max(0.0, float(wait)) if isinstance(wait, (int, float)) and not isinstance(wait, bool) else None)
    return Vote(sent + min(float(fields["lease"]), float(lease)), host, str(fields.get("why") or ""), True)


def _reason(exc):
    if isinstance(exc, socket.timeout):
        return "no answer in time"
    if isinstance(exc, OSError):
        return "unreachable (%s)" % (exc.strerror or type(exc).__name__)
    return str(exc)


def _exchange(target, request, deadline, source):
    """Send one line, read one line, all before `deadline`."""
    seconds = remaining(deadline)
    if seconds <= 0:
        raise socket.timeout()
    family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(seconds)
        if source:
            sock.bind((source, 0))
        sock.connect(target)
        sock.sendall(request)
        return protocol.read_line(sock, deadline)
    finally:
        sock.close()
