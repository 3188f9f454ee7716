"""A loopback TCP listener for probe tests: the one helper for "a peer that answers, or does not".

Importable from any test (tests/conftest.py puts this folder on sys.path).
"""
import socket
import threading


def loopback_listener(reply=b"+", answer=True, seen=None):
    """A listening socket on 127.0.0.1 (close it when done).

    answer=True: every connection gets `reply` (nothing when empty) and is closed; the peer
    address is appended to `seen` when given. answer=False: nobody ever accepts, so the kernel
    completes the handshake and nothing is ever sent (a frozen host)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)

    def serve():
        while True:
            try:
                conn, peer = sock.accept()
            except OSError:
                return
            if seen is not None:
                seen.append(peer[0])
            if reply:
                conn.sendall(reply)
            conn.close()
    if answer:
        threading.Thread(target=serve, daemon=True).start()
    return sock


def loopback_echo(reply=b"+", answer=True, seen=None, stray=False):
    """A UDP socket on 127.0.0.1 answering each datagram with `reply` and the datagram's own bytes, as
    a simulated host's probe endpoint does (close it when done).

    answer=False: nothing is ever answered (a frozen host). stray=True: each answer is preceded by
    one for other bytes (an old round's answer). The sender's address is appended to `seen`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                request, peer = sock.recvfrom(512)
            except OSError:
                return
            if seen is not None:
                seen.append(peer[0])
            if stray:
                sock.sendto(reply + b"\0" * len(request), peer)
            sock.sendto(reply + request, peer)
    if answer:
        threading.Thread(target=serve, daemon=True).start()
    return sock
