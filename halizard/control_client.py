"""The client side of the service's control socket: `<root>/run/ha-lizard/control.sock`.

Why apart from the server (halizard.supervisor.control): the commands and
the metrics ask the running service, and they sit in other layers than the
supervisor. Protocol: one JSON request line `{"command": "...", "args":
{...}}`, one JSON answer line `{"ok": true, "result": ...}` or `{"ok":
false, "error": "..."}`.

    from halizard.control_client import query, ServiceNotRunning
    query(root, "status")              # {"pid", "uptime", "jobs", ...}
    query(root, "jobs")                # [{"name", "state", "pid", ...}]
    query(root, "kill", name="x")      # {"name": "x", "result": "killing" | "idle"}
"""
import json
import os
import socket
import time

from halizard import paths

SOCKET_NAME = "control.sock"
MAX_REQUEST = 64 * 1024


class ServiceNotRunning(Exception):
    """No service answers on the control socket."""


class ControlError(Exception):
    """The service answered with an error (bad command, unknown job...)."""


def socket_path(root):
    return os.path.join(paths.under(root, paths.RUN_DIR), SOCKET_NAME)


def _read_line(conn, deadline):
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("no complete line before the deadline")
        conn.settimeout(remaining)
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST * 64:
            raise ValueError("answer too large")
    return data.split(b"\n", 1)[0]


def query(root, command, timeout=2.0, **args):
    """Ask the running service; returns the result. Raises ServiceNotRunning / ControlError."""
    path = socket_path(root)
    deadline = time.monotonic() + timeout
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError, socket.timeout) as exc:
            raise ServiceNotRunning("ha-lizard is not running (no answer on %s: %s)" % (
                path, type(exc).__name__)) from None
        except OSError as exc:
            raise ServiceNotRunning("ha-lizard control socket %s unusable: %s" % (path, exc.strerror)) from None
        sock.sendall((json.dumps({"command": command, "args": args}) + "\n").encode("utf-8"))
        try:
            line = _read_line(sock, deadline)
        except (socket.timeout, OSError) as exc:
            raise ServiceNotRunning("ha-lizard did not answer within %g s (%s)" % (
                timeout, type(exc).__name__)) from None
    finally:
        sock.close()
    try:
        answer = json.loads(line.decode("utf-8"))
    except ValueError:
        raise ControlError("garbled answer from the service") from None
    if not isinstance(answer, dict):
        raise ControlError("garbled answer from the service")
    if not answer.get("ok"):
        raise ControlError(str(answer.get("error", "unknown error")))
    return answer.get("result")
