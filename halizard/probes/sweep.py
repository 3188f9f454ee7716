"""Probe many hosts at once from one thread: every TCP connect and ICMP echo in one selector loop.

Why: the self-fence check probes every enabled peer each SELF_FENCE_CHECK_INTERVAL s, so a
64-host pool makes 63 probes per host per second. A thread per probe, and on a dom0 a `ping`
process per probe, made that round the largest idle cost of a large pool. Here one raw ICMP
socket per address family sends every echo and reads every reply, and the TCP probes are
non-blocking connects waited on together, and one UDP socket sends every datagram probe (the
simulated hosts' echo) and reads every answer: a round costs a few system calls per peer.

What a probe proves is what `halizard.probes.net` proves (an ICMP echo reply from that address,
or the TCP port's expected bytes). Where the raw socket cannot be opened (not root) or the
address is a host name, that target falls back to `net.probe` in a thread of its own. A target
that cannot be probed at all (bad address, unusable source) fails: what this host cannot probe
counts as not reached, never as "unknown is fine".
"""
import errno
import functools
import ipaddress
import os
import selectors
import socket
import struct
import threading
import time

from halizard.probes import net
from halizard.probes.deadline import remaining

ECHO_REQUEST = {socket.AF_INET: 8, socket.AF_INET6: 128}
ECHO_REPLY = {socket.AF_INET: 0, socket.AF_INET6: 129}
_PROTO = {socket.AF_INET: socket.IPPROTO_ICMP, socket.AF_INET6: socket.IPPROTO_ICMPV6}
_IN_PROGRESS = (0, errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK)
SOL_RAW, ICMP_FILTER = 255, 1   # <linux/icmp.h>; Python's socket module names neither


def checksum(data):
    """The internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(family, ident, seq, payload):
    """An ICMP (or ICMPv6) echo request; for ICMPv6 the kernel fills the checksum in."""
    head = struct.pack("!BBHHH", ECHO_REQUEST[family], 0, 0, ident, seq)
    if family == socket.AF_INET6:
        return head + payload
    return struct.pack("!BBHHH", ECHO_REQUEST[family], 0, checksum(head + payload), ident, seq) + payload


def parse_reply(family, packet):
    """(ident, seq, payload) of an echo reply, None for anything else (IPv4 raw reads carry the IP header)."""
    if family == socket.AF_INET:
        if len(packet) < 20:
            return None
        packet = packet[(packet[0] & 0x0F) * 4:]
    if len(packet) < 8:
        return None
    kind, code, _sum, ident, seq = struct.unpack("!BBHHH", packet[:8])
    if kind != ECHO_REPLY[family] or code != 0:
        return None
    return ident, seq, packet[8:]


def probe_all(targets, deadline, source=None):
    """{key: net.NetResult} for every (key, net.ProbeTarget) pair of `targets`, all probed at once.

    Every probe ends by `deadline` (time.monotonic()); never raises for a target."""
    sweep = _Sweep(deadline, source)
    for key, target in targets:
        sweep.add(key, target)
    return sweep.run()


class _Sweep(object):
    """One round: the pending probes, their sockets, and the results so far."""

    def __init__(self, deadline, source):
        self.deadline, self.source = deadline, source
        self.started = time.monotonic()
        self.results, self.selector = {}, selectors.DefaultSelector()
        self.echoes = {}      # family -> _Echo (one raw socket each), or None when it cannot be opened
        self.datagrams = {}   # family -> _Datagrams (one UDP socket each), or the OSError that refused it
        self.fallback = []    # threads running net.probe for what cannot be swept
        self.lock = threading.Lock()

    def finish(self, key, target, ok, detail):
        self.results[key] = net.NetResult(ok, target.method, target.address, detail, time.monotonic() - self.started)

    def add(self, key, target):
        try:
            address = net.check_address(target.address)
            if self.source is not None:
                net.check_address(self.source)
            if target.method in ("tcp", "udp"):
                net.check_port(target.port)
        except net.ProbeInputError as exc:
            return self.finish(key, target, False, "cannot probe: %s" % exc)
        if remaining(self.deadline) <= 0:
            return self.finish(key, target, False, "no time left to probe")
        family = _family_of(address)
        if family and target.method == "tcp":
            return self._connect(key, target, address, family)
        if family and target.method == "udp":
            return self._datagram(key, target, address, family)
        echo = self._echo(family) if family and target.method == "icmp" else None
        if echo is None:  # a host name (its lookup may block), no raw socket, or a method net.probe knows
            return self._in_thread(key, target)
        try:
            echo.send(key, target, address)
        except OSError as exc:
            self.finish(key, target, False, "cannot send the echo: %s" % (exc.strerror or exc))

    def _echo(self, family):
        if family not in self.echoes:
            self.echoes[family] = _Echo.open(family, self.source)
            if self.echoes[family] is not None:
                self.selector.register(self.echoes[family].sock, selectors.EVENT_READ, self.echoes[family])
        return self.echoes[family]

    def _connect(self, key, target, address, family):
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:  # out of descriptors, say: not reached, and the round goes on
            return self.finish(key, target, False, "cannot open a socket: %s" % (exc.strerror or exc))
        sock.setblocking(False)
        try:
            if self.source:
                sock.bind((self.source, 0))
            code = sock.connect_ex((address, target.port))
        except OSError as exc:
            sock.close()
            return self.finish(key, target, False, "cannot probe port %d: %s" % (target.port, exc.strerror or exc))
        if code not in _IN_PROGRESS:
            sock.close()
            return self.finish(key, target, False, "port %d: %s" % (target.port, os.strerror(code)))
        self.selector.register(sock, selectors.EVENT_WRITE, _Connect(key, target))

    def _datagram(self, key, target, address, family):
        if family not in self.datagrams:
            self.datagrams[family] = _Datagrams.open(family, self.source)
            if isinstance(self.datagrams[family], _Datagrams):
                self.selector.register(self.datagrams[family].sock, selectors.EVENT_READ, self.datagrams[family])
        sender = self.datagrams[family]
        if not isinstance(sender, _Datagrams):
            return self.finish(key, target, False, "cannot probe port %d: %s" % (target.port, sender))
        try:
            sender.send(key, target, address)
        except OSError as exc:
            self.finish(key, target, False, "cannot send to port %d: %s" % (target.port, exc.strerror or exc))

    def _in_thread(self, key, target):
        def one():
            try:
                result = net.probe(target, self.deadline, self.source)
            except (net.ProbeSetupError, net.ProbeInputError) as exc:
                result = net.NetResult(False, target.method, target.address, "cannot probe: %s" % exc, 0.0)
            with self.lock:
                self.results.setdefault(key, result)
        thread = threading.Thread(target=one, name="sweep", daemon=True)
        thread.start()
        self.fallback.append((key, target, thread))

    def run(self):
        try:
            while self._waiting() and remaining(self.deadline) > 0:
                for selected, _mask in self.selector.select(remaining(self.deadline)):
                    selected.data.ready(self, selected.fileobj)
        finally:
            for selected in list(self.selector.get_map().values()):
                if isinstance(selected.data, _Connect):
                    self.finish(selected.data.key, selected.data.target, False, "no answer from port %d within %.1fs"
                                % (selected.data.target.port, time.monotonic() - self.started))
                selected.fileobj.close()
            self.selector.close()
        for echo in self.echoes.values():
            for key, (target, _address) in (echo.pending if echo else {}).items():
                self.finish(key, target, False, "no echo reply within %.1fs" % (time.monotonic() - self.started))
        for sender in self.datagrams.values():
            for key, target, _address in (sender.pending.values() if isinstance(sender, _Datagrams) else ()):
                self.finish(key, target, False, "no answer from port %d within %.1fs"
                            % (target.port, time.monotonic() - self.started))
        for key, target, thread in self.fallback:
            thread.join(remaining(self.deadline) + 0.1)
            with self.lock:
                self.results.setdefault(key, net.NetResult(False, target.method, target.address,
                                                           "no answer in time", time.monotonic() - self.started))
        return dict(self.results)

    def _waiting(self):
        return any(isinstance(s.data, _Connect) for s in self.selector.get_map().values()) or \
            any(echo.pending for echo in self.echoes.values() if echo) or \
            any(d.pending for d in self.datagrams.values() if isinstance(d, _Datagrams))


class _Connect(object):
    """A TCP probe in flight: connected yet? then the expected bytes."""

    def __init__(self, key, target):
        self.key, self.target, self.got, self.connected = key, target, b"", False

    def ready(self, sweep, sock):
        target = self.target
        if not self.connected:
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                return self._end(sweep, sock, False, "port %d: %s" % (target.port, os.strerror(code)))
            self.connected = True
            if not target.expect:
                return self._end(sweep, sock, True, "port %d answered" % target.port)
            sweep.selector.modify(sock, selectors.EVENT_READ, self)
            return None
        try:
            chunk = sock.recv(len(target.expect) - len(self.got))
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            return self._end(sweep, sock, False, "port %d: %s" % (target.port, exc.strerror or exc))
        self.got += chunk
        if not chunk or not target.expect.startswith(self.got):
            return self._end(sweep, sock, False, "port %d closed without the expected reply" % target.port)
        if len(self.got) == len(target.expect):
            return self._end(sweep, sock, True, "port %d answered" % target.port)
        return None

    def _end(self, sweep, sock, ok, detail):
        sweep.selector.unregister(sock)
        sock.close()
        sweep.finish(self.key, self.target, ok, detail)


class _Echo(object):
    """One raw ICMP socket of one family: the echoes sent this round and the replies matched to them."""

    def __init__(self, family, sock):
        self.family, self.sock = family, sock
        self.ident = int.from_bytes(os.urandom(2), "big")
        self.nonce = os.urandom(8)
        self.pending = {}     # key -> (target, address)
        self.by_seq = {}      # seq -> key

    @classmethod
    def open(cls, family, source):
        """The raw socket, or None when this process may not open one (then `ping` runs instead)."""
        try:
            sock = socket.socket(family, socket.SOCK_RAW, _PROTO[family])
        except OSError:
            return None
        try:
            sock.setblocking(False)
            if source and _family_of(source) == family:
                sock.bind((source, 0))
        except OSError:
            sock.close()
            return None
        if family == socket.AF_INET:
            try:  # Linux ICMP_FILTER: the kernel passes only echo replies to this socket
                sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("I", ~(1 << ECHO_REPLY[family]) & 0xFFFFFFFF))
            except OSError:
                pass
        return cls(family, sock)

    def send(self, key, target, address):
        seq = len(self.by_seq) + 1
        self.by_seq[seq] = key
        self.pending[key] = (target, address)
        self.sock.sendto(echo_request(self.family, self.ident, seq, self.nonce), (address, 0))

    def ready(self, sweep, sock):
        for packet, sender in _received(sock, 2048, self, sweep.deadline):
            reply = parse_reply(self.family, packet)
            if reply is None or reply[0] != self.ident or reply[2] != self.nonce:
                continue  # another process's echo, our own request looped back, or an old round's reply
            key = self.by_seq.get(reply[1])
            if key in self.pending and _same_address(sender[0], self.pending[key][1]):
                target, _address = self.pending.pop(key)
                sweep.finish(key, target, True, "echo reply")


class _Datagrams(object):
    """One UDP socket of one family: a datagram of random bytes per UDP target, answers matched by
    those bytes and their sender (net.udp_probe, for many targets at once)."""

    def __init__(self, family, sock):
        self.family, self.sock = family, sock
        self.round = os.urandom(net.NONCE_BYTES - 4)  # one random draw per round, a counter per datagram
        self.sent = 0
        self.pending = {}     # nonce -> (key, target, address)

    @classmethod
    def open(cls, family, source):
        """The socket, or the OSError that refused it (the UDP targets of this family fail with it)."""
        try:
            sock = socket.socket(family, socket.SOCK_DGRAM)
        except OSError as exc:
            return exc.strerror or exc
        try:
            sock.setblocking(False)
            if source and _family_of(source) == family:
                sock.bind((source, 0))
        except OSError as exc:
            sock.close()
            return exc.strerror or exc
        return cls(family, sock)

    def send(self, key, target, address):
        self.sent += 1
        nonce = self.round + struct.pack("!I", self.sent)
        self.sock.sendto(nonce, (address, target.port))
        self.pending[nonce] = (key, target, address)

    def ready(self, sweep, sock):
        for answer, sender in _received(sock, 512, self, sweep.deadline):
            nonce = answer[-net.NONCE_BYTES:]
            entry = self.pending.get(nonce)
            if entry is None or sender[1] != entry[1].port or not _same_address(sender[0], entry[2]):
                continue  # an old round's answer, or one from elsewhere
            key, target, address = self.pending.pop(nonce)
            result = net.udp_verdict(address, target.port, answer == target.expect + nonce, 0.0)
            sweep.finish(key, target, result.ok, result.detail)


def _received(sock, size, reader, deadline):
    """Each (packet, sender) readable now from `sock`, while `reader` has probes pending and the round
    has time left (a flood of other packets never holds the round). Nothing more to read, or an error
    (an ICMP error the kernel does not say the target of): what is pending fails at the deadline."""
    while reader.pending and remaining(deadline) > 0:
        try:
            yield sock.recvfrom(size)
        except OSError:
            return


@functools.lru_cache(maxsize=1024)
def _family_of(address):
    try:
        return socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    except ValueError:
        return None


def _same_address(a, b):
    if a == b:  # both as the kernel and check_address write them: the usual case, no parsing
        return True
    try:
        return ipaddress.ip_address(a.split("%", 1)[0]) == ipaddress.ip_address(b)
    except ValueError:
        return False
