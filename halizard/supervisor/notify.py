"""sd_notify over $NOTIFY_SOCKET, without a systemd library.

Why: the unit is `Type=notify` with `WatchdogSec=`; systemd learns READY,
RELOADING, STOPPING and the watchdog pings through one datagram socket. Outside
systemd (SysV, tests without the variable) every call is a cheap no-op.
"""
import os
import socket
import time


class Notifier:
    """Sends `KEY=VALUE` datagrams to the socket named by NOTIFY_SOCKET (if any)."""

    def __init__(self, address=None, environ=None):
        env = os.environ if environ is None else environ
        self.address = address if address is not None else env.get("NOTIFY_SOCKET")
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        self.watchdog_usec = None
        if usec and usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.watchdog_usec = int(usec)

    @property
    def enabled(self):
        return bool(self.address)

    def watchdog_interval(self):
        """Seconds between pings (half the watchdog timeout), or None without a watchdog."""
        if self.watchdog_usec is None:
            return None
        return self.watchdog_usec / 2e6

    def send(self, *fields):
        """Send one datagram; returns False (never raises) when nothing could be sent."""
        if not self.address:
            return False
        target = self.address
        if target.startswith("@"):
            target = "\0" + target[1:]
        payload = "\n".join(fields).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(1.0)
                sock.connect(target)
                sock.sendall(payload)
            return True
        except OSError:
            return False

    def ready(self, status=None):
        return self.send("READY=1", "MAINPID=%d" % os.getpid(), *(["STATUS=" + status] if status else []))

    def reloading(self):
        usec = int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6)
        return self.send("RELOADING=1", "MONOTONIC_USEC=%d" % usec)

    def stopping(self):
        return self.send("STOPPING=1")

    def watchdog(self):
        return self.send("WATCHDOG=1")

    def status(self, text):
        return self.send("STATUS=" + text)
