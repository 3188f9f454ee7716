"""Network reachability probes: ICMP ping through the system `ping`, TCP connect, and a UDP echo.

Why: quorum counts hosts we can reach by network, independent of xapi (a
hung xapi still "pings"). Both probes end by their deadline. `ping` gets an
argument list (no shell) and an address that was checked first, so nothing
from configuration can turn into an option or a command.

A probe that cannot run at all (no `ping` binary, bad source address) raises
`ProbeSetupError`: that is "not measured", never "the peer is down", so a
broken probe cannot make a healthy pool look partitioned.
"""
import functools
import ipaddress
import math
import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass

from halizard.probes.deadline import remaining

HOSTNAME_RE = re.compile(r"\A[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})\Z")
PING = "ping"
NONCE_BYTES = 8   # the random bytes a UDP probe sends, repeated in its answer


class ProbeInputError(ValueError):
    """An address, port or source given to a probe is not valid."""


class ProbeSetupError(Exception):
    """The probe itself cannot run here (missing tool, unusable source address)."""


@dataclass(frozen=True)
class ProbeTarget:
    """How to probe one host: `icmp` to `address`; `tcp` to (address, port) expecting `expect`; or
    `udp`: a datagram of random bytes to (address, port), answered by `expect` and the same bytes
    (`halizard.sim.probe`: the simulated hosts' echo, which a datagram mirrors better than a connection)."""

    address: str
    method: str = "icmp"
    port: int = 0
    expect: bytes = b""


@dataclass(frozen=True)
class NetResult:
    """One network probe: ok, how, and why (one line)."""

    ok: bool
    method: str
    address: str
    detail: str
    elapsed: float


def check_address(address):
    """The address if it is an IP literal or a plain host name; ProbeInputError otherwise."""
    if not isinstance(address, str) or not address:
        raise ProbeInputError("empty probe address")
    return _checked(address)


def check_port(port):
    """The port if it is a TCP or UDP port number; ProbeInputError otherwise."""
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ProbeInputError("invalid probe port %r" % (port,))
    return port


@functools.lru_cache(maxsize=1024)
def _checked(address):
    """check_address for a non-empty string; cached: the self-fence round checks every peer's each second."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        pass
    if HOSTNAME_RE.match(address) and ".." not in address:
        return address
    raise ProbeInputError("invalid probe address %r" % address[:80])


def icmp_ping(address, deadline, source=None, ping=PING):
    """One ICMP echo to `address` (from `source` if given), answered before `deadline`."""
    address = check_address(address)
    if source is not None:
        source = check_address(source)
    started = time.monotonic()
    seconds = remaining(deadline)
    if seconds <= 0:
        return NetResult(False, "icmp", address, "no time left to ping", 0.0)
    wait = str(max(1, int(math.ceil(seconds))))
    argv = [ping, "-n", "-q", "-c", "1", "-W", wait, "-w", wait]
    if source:
        argv += ["-I", source]
    argv.append(address)
    try:
        proc = subprocess.run(  # noqa: S603 - argument list, checked address
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=seconds, check=False)
    except FileNotFoundError:
        raise ProbeSetupError("the `ping` program is not installed (install iputils-ping)") from None
    except subprocess.TimeoutExpired:
        return NetResult(False, "icmp", address, "no echo reply within %.1fs" % seconds,
                         time.monotonic() - started)
    elapsed = time.monotonic() - started
    if proc.returncode == 0:
        return NetResult(True, "icmp", address, "echo reply", elapsed)
    message = (proc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
    if source and message and "bind" in message[-1].lower():
        raise ProbeSetupError("ping cannot use source %s: %s" % (source, message[-1]))
    why = message[-1] if message else "no echo reply (exit %d)" % proc.returncode
    return NetResult(False, "icmp", address, why[:200], elapsed)


def tcp_probe(address, port, deadline, source=None, expect=b""):
    """Connect to (address, port) before `deadline`; with `expect`, also read exactly those bytes."""
    address = check_address(address)
    check_port(port)
    started = time.monotonic()
    seconds = remaining(deadline)
    if seconds <= 0:
        return NetResult(False, "tcp", address, "no time left to connect", 0.0)
    sock = _socket(address, socket.SOCK_STREAM, source)
    try:
        sock.settimeout(seconds)
        try:
            sock.connect((address, port))
            got = b""
            while len(got) < len(expect):
                sock.settimeout(max(0.001, remaining(deadline)))
                chunk = sock.recv(len(expect) - len(got))
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            return NetResult(False, "tcp", address, "no answer from port %d within %.1fs" % (port, seconds),
                             time.monotonic() - started)
        except OSError as exc:
            return NetResult(False, "tcp", address, "port %d: %s" % (port, exc.strerror or type(exc).__name__),
                             time.monotonic() - started)
        if got != expect:
            return NetResult(False, "tcp", address, "port %d closed without the expected reply" % port,
                             time.monotonic() - started)
        return NetResult(True, "tcp", address, "port %d answered" % port, time.monotonic() - started)
    finally:
        sock.close()


def _socket(address, kind, source):
    """A socket of `kind` for probing `address`, bound to `source` when given (ProbeSetupError if it cannot be)."""
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, kind)
    if source:
        try:
            sock.bind((check_address(source), 0))
        except OSError as exc:
            sock.close()
            raise ProbeSetupError("cannot bind probe source %s: %s" % (source, exc.strerror)) from None
        except ProbeInputError:
            sock.close()
            raise
    return sock


def udp_probe(address, port, deadline, source=None, expect=b""):
    """One datagram of random bytes to (address, port) before `deadline`; reached when the answer is
    `expect` followed by those bytes. Any other answer ending in them (a refusal), an ICMP port
    unreachable or silence until the deadline is not reached."""
    address = check_address(address)
    check_port(port)
    started = time.monotonic()
    if remaining(deadline) <= 0:
        return NetResult(False, "udp", address, "no time left to probe", 0.0)
    nonce = os.urandom(NONCE_BYTES)
    sock = _socket(address, socket.SOCK_DGRAM, source)
    try:
        try:
            sock.connect((address, port))
            sock.send(nonce)
            answer = b""
            while not answer.endswith(nonce):
                sock.settimeout(max(0.001, remaining(deadline)))
                answer = sock.recv(512)
        except socket.timeout:
            return NetResult(False, "udp", address, "no answer from port %d within %.1fs"
                             % (port, time.monotonic() - started), time.monotonic() - started)
        except OSError as exc:
            return NetResult(False, "udp", address, "port %d: %s" % (port, exc.strerror or type(exc).__name__),
                             time.monotonic() - started)
        return udp_verdict(address, port, answer == expect + nonce, time.monotonic() - started)
    finally:
        sock.close()


def udp_verdict(address, port, ok, elapsed):
    """The NetResult of an answered UDP probe: the expected answer, or a refusal."""
    return NetResult(ok, "udp", address, "port %d %s" % (port, "answered" if ok else "refused the probe"), elapsed)


def probe(target, deadline, source=None):
    """Run the probe a ProbeTarget describes."""
    if target.method == "icmp":
        return icmp_ping(target.address, deadline, source)
    if target.method == "tcp":
        return tcp_probe(target.address, target.port, deadline, source, target.expect)
    if target.method == "udp":
        return udp_probe(target.address, target.port, deadline, source, target.expect)
    raise ProbeInputError("unknown probe method %r" % (target.method,))
