"""Answer peer queries on UDP: this host, its master, and how long ago it last read that master.

Why a datagram server in the service: a slave cut from the master asks the
peers it still reaches before it takes anything over (halizard.core.peers),
and only the peer's own service knows when it last read the master. Every
datagram is answered or dropped on its own; malformed, unsigned or oversized
ones are dropped with a rate-limited log line (one per reason a minute) and
never end the loop. A query from a sender the network would not let through
(`gate`: the simulator's links; always open on a real dom0) gets nothing.
"""
import select
import socket
import time

from halizard.peers import wire

LOG_EVERY = 60.0  # s between two lines about dropped datagrams of one reason


class DropLog(object):
    """Says why datagrams are dropped, at most once per reason every LOG_EVERY seconds."""

    def __init__(self, log, clock=time.monotonic, every=LOG_EVERY):
        self.log, self.clock, self.every = log, clock, every
        self.last, self.count = {}, {}

    def drop(self, reason, sender):
        self.count[reason] = self.count.get(reason, 0) + 1
        now = self.clock()
        if self.log is None or now - self.last.get(reason, -self.every) < self.every:
            return
        more = self.count[reason] - 1
        self.log.warning("peer query from {} dropped: {}{}", sender, reason,
                         " (and %d more since the last such line)" % more if more else "")
        self.last[reason], self.count[reason] = now, 0


def _bind(address, port):
    """A UDP socket on (address, port); without an address every address, IPv6 and IPv4 where the
    host has IPv6 (a dual-stack socket), else every IPv4 address."""
    tries = [(socket.AF_INET6 if ":" in address else socket.AF_INET, address)] if address else \
        [(socket.AF_INET6, "::"), (socket.AF_INET, "")]
    for index, (family, host) in enumerate(tries):
        try:
            sock = socket.socket(family, socket.SOCK_DGRAM)
        except OSError:
            if index + 1 < len(tries):
                continue
            raise
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and not address:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind((host, port))
            return sock
        except OSError:
            sock.close()
            if index + 1 < len(tries):
                continue
            raise
    raise OSError("no address to bind")


def _plain(sender):
    """An IPv4 sender as a dual-stack socket reports it (::ffff:a.b.c.d) in its plain form."""
    return sender[len("::ffff:"):] if sender.startswith("::ffff:") and "." in sender else sender


class Responder(object):
    """A bound UDP socket answering queries until `serve`'s end.

    answer_for(): (this host's uuid, is master, the master address, age of the last good read or None,
    whether it votes),
    computed for every query; gate(sender address): whether that sender's packets reach this host.
    """

    def __init__(self, key, address, port, answer_for, gate=None, log=None):
        self.key = key
        self.answer_for = answer_for
        self.gate = gate
        self.drops = DropLog(log)
        self.sock = _bind(address, port)
        self.answered = 0

    def handle(self, data, sender):
        """The answer to send for one datagram, or None (dropped)."""
        if len(data) > wire.MAX_DATAGRAM:
            self.drops.drop("longer than %d bytes" % wire.MAX_DATAGRAM, sender)
            return None
        try:
            nonce = wire.read_query(self.key, data)
        except wire.WireError as exc:
            self.drops.drop(str(exc), sender)
            return None
        if self.gate is not None and not self.gate(sender):
            return None  # the network would not have carried it
        try:
            uuid, is_master, master, age, votes = self.answer_for()
        except Exception as exc:  # noqa: BLE001 - no answer (the asker holds its takeover), never a crash
            self.drops.drop("this host cannot answer (%s: %s)" % (type(exc).__name__, exc), sender)
            return None
        return wire.answer(self.key, nonce, uuid, is_master, master, age, votes)

    def serve(self, end, clock=time.monotonic):
        """Answer every datagram that arrives before `end` (on `clock`)."""
        while True:
            left = end - clock()
            if left <= 0:
                return
            try:
                ready, _w, _x = select.select([self.sock], [], [], left)
            except (OSError, ValueError):  # closed under it: the run is over
                return
            if not ready:
                continue
            try:
                data, sender = self.sock.recvfrom(wire.MAX_DATAGRAM + 1)
            except OSError:
                continue
            reply = self.handle(data, _plain(sender[0]))
            if reply is None:
                continue
            try:
                self.sock.sendto(reply, sender[:2])
                self.answered += 1
            except OSError:
                pass

    def close(self):
        self.sock.close()
