"""The service's control socket: `<root>/run/ha-lizard/control.sock`, mode 0600, root only.

Why: `ha-lizard status`, `jobs list` and `jobs kill` (and `ha-cfg`) ask the
running service rather than guessing from pid files. Protocol: one JSON
request line `{"command": "...", "args": {...}}`, one JSON answer line
`{"ok": true, "result": ...}` or `{"ok": false, "error": "..."}`. The peer's
uid is checked (SO_PEERCRED): only root or the service's own user.

The client (query, ServiceNotRunning, ControlError) is halizard.control_client.
"""
import json
import os
import socket
import struct
import threading
import time

from halizard.control_client import (  # noqa: F401 - the client's names, re-exported for the commands
    MAX_REQUEST, ControlError, ServiceNotRunning, _read_line, query, socket_path)


def _log():
    """The server's logger, imported only where a server runs (the CLI client never needs loguru)."""
    from loguru import logger

    return logger.bind(function="control")


def _peer_uid(conn):
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


class ControlServer:
    """Serves `handler(command, args) -> result` on the socket, one short connection at a time."""

    def __init__(self, root, handler, io_timeout=2.0):
        self.path = socket_path(root)
        self.handler = handler
        self.io_timeout = io_timeout
        self._sock = None
        self._thread = None
        self._stop = threading.Event()

    def start(self):
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        try:
            os.unlink(self.path)  # stale from a crash; we hold the instance lock
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(self.path)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(8)
        sock.settimeout(5.0)   # stop() wakes accept() at once by connecting; this is only a backstop
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self._thread.start()

    def alive(self):
        return self._thread is not None and self._thread.is_alive()

    def stop(self):
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._wake_accept()
        if self._thread is not None:
            self._thread.join(2.0)
        if self._sock is not None:
            self._sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _wake_accept(self):
        """Connect once to our own socket so a blocked accept() returns and sees the stop flag."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as poke:
                poke.settimeout(1.0)
                poke.connect(self.path)
        except OSError:
            pass

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _addr = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                time.sleep(0.1)
                continue
            if self._stop.is_set():
                conn.close()
                return
            try:
                self._handle(conn)
            except Exception as exc:
                _log().warning("control request failed: {}", type(exc).__name__)
            finally:
                conn.close()

    def _handle(self, conn):
        uid = _peer_uid(conn)
        if uid not in (0, os.getuid()):
            self._answer(conn, {"ok": False, "error": "permission denied (root only)"})
            return
        try:
            line = _read_line(conn, time.monotonic() + self.io_timeout)
            request = json.loads(line.decode("utf-8"))
            command = request["command"]
            args = request.get("args") or {}
            if not isinstance(command, str) or not isinstance(args, dict):
                raise ValueError
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            self._answer(conn, {"ok": False, "error": "malformed request"})
            return
        try:
            result = self.handler(command, args)
        except ControlError as exc:
            self._answer(conn, {"ok": False, "error": str(exc)})
            return
        self._answer(conn, {"ok": True, "result": result})

    def _answer(self, conn, answer):
        conn.settimeout(self.io_timeout)
        conn.sendall((json.dumps(answer, default=str) + "\n").encode("utf-8"))
