"""The reachability endpoint of a simulated host (the simulator's "ping").

Why: a network probe of a peer must be a real network operation that power-offs,
link loss and partitions affect, yet is independent of xapi (a hung xapi
still "pings"). A UDP datagram to the host's address on the probe port is
answered with PROBE_REPLY followed by the request's own bytes when the
sender can reach the host, with REFUSED (the same way) otherwise, as the
reset of a connection would tell; a frozen host (`sim fault freeze`)
answers nothing until it resumes, so the prober times out.

Why a datagram and not a TCP connection (as before 2026-12-05): every host's
self_fence loop probes every peer each second, about 4,000 probes a second
in a 64-host pool, all into this one process. A TCP probe cost a handshake,
an accept, a close and a socket on both sides; most of a prober's time and
much of the simulator's went there. A datagram is one send and one answer,
like the ICMP echo a dom0 sends (`halizard.probes.sweep`).
"""
import select
import socket
import threading
import time

PROBE_REPLY = b"+"
REFUSED = b"-"
HOLD_POLL_SECONDS = 0.05   # how often a held probe or connection (frozen host, hung xapi) looks again
IDLE_SECONDS = 1.0         # an idle endpoint's loop looks for a lost shutdown wake-up this often
HELD_SECONDS = 60.0        # a frozen host's held probes older than this are dropped: the prober is gone
HELD_MAX = 4096            # and never more than this many (a long freeze in a large pool)


def peer_closed(sock):
    """True when the client has gone away (EOF or error), without consuming data."""
    previous = sock.gettimeout()
    try:
        sock.setblocking(False)
        try:
            data = sock.recv(1, socket.MSG_PEEK)
        finally:
            sock.settimeout(previous)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    return data == b""


class ProbeServer(object):
    """One host's probe endpoint: a UDP socket on (address, port) and the loop that answers it.

    The same life cycle as a socketserver server: serve_forever() in a thread
    of its own, shutdown() to end it, server_close(), close() for both.
    """

    def __init__(self, address, port, pool, host_uuid):
        self.pool = pool
        self.host_uuid = host_uuid
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind((address, port))
            self.socket.setblocking(False)
        except OSError:
            self.socket.close()
            raise
        self.server_address = self.socket.getsockname()
        self.held = []          # (request, sender, when) of a frozen host, answered once it resumes
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._serving = False

    def serve_forever(self, poll_interval=0.5):
        """Answer probes until shutdown().

        shutdown() wakes the loop itself, so an idle loop looks again only every
        max(poll_interval, IDLE_SECONDS) s: 65 endpoints polling 10 times a
        second would cost the simulator more than their probes."""
        self._serving = True
        poller = select.poll()
        poller.register(self.socket.fileno(), select.POLLIN)
        try:
            while not self._stopping.is_set():
                wait = HOLD_POLL_SECONDS if self.held else max(poll_interval, IDLE_SECONDS)
                if poller.poll(wait * 1000.0):
                    self._read()
                if self.held:
                    self._release_held()
        except (OSError, ValueError):  # the socket was closed under the loop
            pass
        finally:
            self._stopped.set()

    def _read(self):
        frozen = None
        while True:
            try:
                request, sender = self.socket.recvfrom(512)
            except (BlockingIOError, InterruptedError):
                return
            if self._stopping.is_set():
                return
            if frozen is None:
                frozen = self.pool.frozen(self.host_uuid)
            if frozen:
                if len(self.held) < HELD_MAX:
                    self.held.append((request, sender, time.monotonic()))
                continue
            self._answer(request, sender)

    def _answer(self, request, sender):
        verdict = PROBE_REPLY if self.pool.can_reach(sender[0], self.host_uuid) else REFUSED
        try:
            self.socket.sendto(verdict + request[:64], sender)
        except OSError:  # the prober's port is gone: nobody to tell
            pass

    def _release_held(self):
        now = time.monotonic()
        if self.pool.frozen(self.host_uuid):
            self.held = [h for h in self.held if now - h[2] < HELD_SECONDS]
            return
        held, self.held = self.held, []
        for request, sender, _when in held:
            self._answer(request, sender)

    def shutdown(self):
        """End serve_forever() (woken at once by a datagram to itself) and wait for it."""
        self._stopping.set()
        if not self._serving:
            return
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker:
                waker.sendto(b"", self.server_address)
        except OSError:
            pass
        self._stopped.wait(5.0)

    def server_close(self):
        self.socket.close()

    def close(self):
        self.shutdown()
        self.server_close()


def probe(address, port, timeout=1.0, source=None):
    """True when a probe of (address, port) from `source` gets the reply in time (the product's own probe)."""
    from halizard.probes import net

    try:
        return net.udp_probe(address, port, time.monotonic() + timeout, source, PROBE_REPLY).ok
    except (net.ProbeInputError, net.ProbeSetupError):
        return False
