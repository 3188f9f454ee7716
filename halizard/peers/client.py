"""Ask every reached peer at once whether it still reads the master, under one deadline.

Why one socket for all: the asks go out together and the answers are read as
they come, so the whole query costs one round trip (or the deadline when a
peer stays silent), whatever the pool size, with no thread per peer. A query
still unanswered a third of the way to the deadline is sent again (UDP may
drop a datagram; the query is idempotent). Sent from this host's management
address (platform.source_address()), so the simulator's links and partitions
apply to it as to every other probe. Answers are matched by the query's nonce,
not by the sender's address (a host answering from a wildcard socket may reply
from another of its addresses); anything that is not an authentic answer to
this query from the host asked counts as no answer.
"""
import select
import socket
import time

from halizard.peers import wire
from halizard.signing import new_nonce

RESENDS = 2


def _family(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def ask(targets, port, key, self_uuid, deadline, source=None, log=None):
    """{peer uuid: PeerAnswer or None} for `targets` [(uuid, address)], all before `deadline` (monotonic)."""
    answers = {uuid: None for uuid, _address in targets}
    if not targets:
        return answers
    pending = {}  # nonce -> (uuid, (address, port))
    for uuid, address in targets:
        pending[new_nonce()] = (uuid, (address, port))
    family = _family(source or targets[0][1])
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if source:
            sock.bind((source, 0))
        start = time.monotonic()
        span = max(0.0, deadline - start)
        resend_at = [start + span * (n + 1) / (RESENDS + 1) for n in range(RESENDS)]
        _send(sock, pending, key, self_uuid, log)
        while pending:
            now = time.monotonic()
            if now >= deadline:
                break
            if resend_at and now >= resend_at[0]:
                resend_at.pop(0)
                _send(sock, pending, key, self_uuid, log)
            wake = min([deadline] + resend_at[:1])
            ready, _w, _x = select.select([sock], [], [], max(0.0, wake - now))
            if ready:
                _receive(sock, pending, answers, key, log)
    finally:
        sock.close()
    return answers


def _send(sock, pending, key, self_uuid, log):
    for nonce, (uuid, target) in list(pending.items()):
        try:
            sock.sendto(wire.query(key, nonce, self_uuid), target)
        except OSError as exc:  # no route, a refused port reported late: the peer counts as silent
            if log is not None:
                log.debug("peer query to {} not sent: {}", uuid, exc.strerror or type(exc).__name__)


def _receive(sock, pending, answers, key, log):
    try:
        data, _sender = sock.recvfrom(wire.MAX_DATAGRAM + 1)
    except OSError:
        return
    nonce = wire.peek_nonce(data)
    if nonce not in pending:
        return  # not an answer to a query still open (garbage, late, or already answered)
    uuid = pending[nonce][0]
    try:
        answers[uuid] = wire.read_answer(key, data, nonce, uuid)
    except wire.WireError as exc:
        if log is not None:
            log.warning("peer {}: not an answer: {}", uuid, exc)
        return
    del pending[nonce]
