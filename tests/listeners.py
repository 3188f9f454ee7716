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
