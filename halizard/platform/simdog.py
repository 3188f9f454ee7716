"""The simulated host's watchdog device: a small process that reboots the host when it is not fed.

Why a process of its own, in its own session: like the kernel's device it must outlive a frozen
(SIGSTOP) or killed service. When it fires it reboots the simulated host through the simulator's
reboot path (control `reboot_host`), as the kernel would reboot a dom0.
Its stdin is the device: any byte feeds it; "V" then the end of input disarms it (the magic close);
the end of input without "V" leaves it counting. One flock per host root makes a second open busy.
Run as `python -m halizard.platform.simdog CONTROL_URL HOST_UUID TIMEOUT LOCK_PATH`.
"""
import fcntl
import os
import select
import subprocess
import sys
import time

from halizard.platform.base import PlatformError, Watchdog

LOCK_NAME = "sim-watchdog.lock"
LOG_NAME = "sim-watchdog.log"   # what the device did (it has no kernel log to write to)
START_SECONDS = 10.0


class SimWatchdog(Watchdog):
    """The parent's handle: feed() writes a byte, disarm() the magic close."""

    def __init__(self, control_url, host_uuid, timeout, run_dir):
        os.makedirs(run_dir, exist_ok=True)
        argv = [sys.executable, "-m", "halizard.platform.simdog", control_url, host_uuid, "%g" % timeout,
                os.path.join(run_dir, LOCK_NAME)]
        with open(os.path.join(run_dir, LOG_NAME), "a", encoding="utf-8") as log:
            self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                          start_new_session=True, close_fds=True)
        ready, _w, _x = select.select([self._proc.stdout], [], [], START_SECONDS)
        line = self._proc.stdout.readline().decode("ascii", "replace").strip() if ready else ""
        if line != "armed":
            self._end()
            if line.startswith("busy"):
                raise PlatformError("watchdog device of simulated host %s is busy (%s)" % (host_uuid, line))
            raise PlatformError("simulated watchdog of host %s did not start (%s)" % (host_uuid, line or "silent"))
        self.timeout = timeout

    def _write(self, data):
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        except (OSError, ValueError):
            raise PlatformError("simulated watchdog gone (it fired or was killed)") from None

    def feed(self):
        self._write(b"\0")

    def disarm(self):
        try:
            self._write(b"V")
        except PlatformError:
            pass
        self._end()

    def _end(self):
        for stream in (self._proc.stdin, self._proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self._proc.wait(START_SECONDS)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _say(text):
    sys.stderr.write("%s simdog %d: %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), os.getpid(), text))
    sys.stderr.flush()


def _fire(control_url, host_uuid):
    from halizard.sim import control
    _say("not fed in time: rebooting host %s" % host_uuid)
    try:
        control.call(control_url, "reboot_host", host_uuid, timeout=10.0)
        _say("host %s rebooted" % host_uuid)
    except control.ControlError as exc:  # a powered-off host or a pool already gone: nothing to reboot
        _say("reboot not done: %s" % exc)


def main(argv):
    control_url, host_uuid, timeout, lock_path = argv[0], argv[1], float(argv[2]), argv[3]
    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.stdout.write("busy: another watchdog holds the device\n")
        return 3
    sys.stdout.write("armed\n")
    sys.stdout.flush()
    due, magic, fed = time.monotonic() + timeout, False, True
    while True:
        left = due - time.monotonic()
        if left <= 0:
            _fire(control_url, host_uuid)
            return 0
        ready = select.select([0], [], [], left)[0] if fed else []
        if not fed:
            time.sleep(left)  # unexpected close: counting on, nothing can feed it any more
            continue
        if ready:
            data = os.read(0, 64)
            if not data:
                if magic:
                    return 0
                _say("closed without the magic V: counting on")
                fed = False
                continue
            magic = data.endswith(b"V")
            due = time.monotonic() + timeout


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
