"""The clock every HA interval is measured with: CLOCK_BOOTTIME, tagged with the boot id.

Why: the self-fence wait W is the only proof of death with FENCE_METHOD=POOL.
Measured with the wall clock, an NTP step or a resumed nested host
shortens it and a VM runs twice. CLOCK_BOOTTIME never steps, counts
suspended time, and is the same for every process of one boot, so a
timestamp one job stores is comparable in the next job's process. A
timestamp from another boot means nothing: stores keep `boot_id()` beside
their timestamps and drop them when it changed.
"""
import time

# The Linux value of CLOCK_BOOTTIME; Python names it only from 3.7 on (clock_gettime exists on 3.6).
CLOCK_BOOTTIME = getattr(time, "CLOCK_BOOTTIME", 7)
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


def now():
    """Seconds since boot (CLOCK_BOOTTIME); time.monotonic() where that clock does not exist."""
    try:
        return time.clock_gettime(CLOCK_BOOTTIME)
    except (AttributeError, OSError):
        return time.monotonic()


def to_wall(boot_seconds):
    """The wall-clock time (Unix seconds) of an instant measured with now(): for display only,
    e.g. journal entries that people read, never for an interval that proves anything."""
    return time.time() - (now() - boot_seconds)


def boot_id(path=BOOT_ID_FILE):
    """This boot's id (the kernel's random boot_id), or "" when it cannot be read."""
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return ""


class Clocks:
    """The clocks one injectable object gives: monotonic (intervals in this process), wall (records people
    read, deadlines the supervisor sets), boot (CLOCK_BOOTTIME, comparable between processes of one
    boot) with its boot_id, and sleep. Tests pass their own (settable) object with the same methods."""

    monotonic = staticmethod(time.monotonic)
    wall = staticmethod(time.time)
    boot = staticmethod(now)
    boot_id = staticmethod(boot_id)
    sleep = staticmethod(time.sleep)
