"""The watchdog backstop: the host's watchdog device, fed only while this service is healthy.

Why: the self-fence wait the pool counts on assumes the isolated host's service acts. A frozen or dead
service would never stop its VMs; as sbd and XenServer HA do, the service arms the watchdog device
(SELF_FENCE_WATCHDOG seconds, halizard.platform) and feeds it only while the supervisor is healthy and
the self_fence job keeps beating (a beat says until when it is known to act: one check ahead, or, once
it decided to stop the VMs, until its stop deadline). A host whose service stops doing either reboots
within the device's timeout. A device that is missing or busy is said in one ERROR line and alerted;
the service then runs unarmed and says so in `ha-lizard status`.
"""
import os

from loguru import logger

from halizard.jobs.beat import beat_path, read_beat, write_beat  # noqa: F401 - write_beat re-exported for tests
from halizard.probes import clock

log = logger.bind(function="self_fence")
START_GRACE = 10.0  # s after arming during which the first beat may still be missing


class Backstop:
    """Arms, feeds and disarms the device for one service instance."""

    def __init__(self, root, watch_self_fence=True, platform_factory=None, alert=None):
        self.root = root
        self.watch_self_fence = watch_self_fence
        self._platform_factory = platform_factory
        self._alert = alert or self._raise_alert
        self.device = None
        self.timeout = 0
        self.problem = None
        self._armed_at = None
        self._starved = False

    @property
    def armed(self):
        return self.device is not None

    def interval(self):
        """Seconds between two feeds: a quarter of the timeout (None when unarmed)."""
        return self.timeout / 4.0 if self.device is not None else None

    def configure(self, seconds):
        """Arm, re-arm or disarm for SELF_FENCE_WATCHDOG=`seconds` (0: off); nothing when unchanged."""
        try:
            seconds = int(seconds or 0)
        except (TypeError, ValueError):
            seconds = 0
        if seconds == self.timeout and (self.device is not None or self.problem or not seconds):
            return
        self.close()
        self.timeout = seconds
        if not seconds:
            return
        from halizard.core.policy import MIN_WATCHDOG
        from halizard.platform import PlatformError, get_platform
        try:
            if seconds < MIN_WATCHDOG:
                raise PlatformError("a timeout below %d s is refused (fed every quarter of it)" % MIN_WATCHDOG)
            platform = (self._platform_factory or get_platform)(self.root)
            try:
                os.remove(beat_path(self.root))  # a beat of an earlier instance proves nothing about this one
            except OSError:
                pass
            self.device = platform.open_watchdog(seconds)
        except PlatformError as exc:
            self.problem = "SELF_FENCE_WATCHDOG=%d but the watchdog is NOT armed: %s" % (seconds, exc)
            log.error("{}", self.problem)
            self._alert(self.problem)
            return
        self._armed_at = clock.now()
        log.info("watchdog armed: the host reboots if this service stops acting for {} s", seconds)

    def feed(self, healthy):
        """Feed the device when the supervisor is `healthy` and the self-fence beats; True when fed."""
        if self.device is None:
            return False
        why = None if healthy else "the supervisor is unhealthy"
        if why is None and self.watch_self_fence and not self._beating():
            why = "the self_fence job stopped beating"
        if why is not None:
            if not self._starved:
                log.error("watchdog not fed ({}): the host reboots within {} s unless that changes", why,
                          self.timeout)
            self._starved = True
            return False
        from halizard.platform import PlatformError
        try:
            self.device.feed()
        except PlatformError as exc:
            self.problem = "watchdog lost: %s" % exc
            log.error("{}", self.problem)
            self.device = None
            return False
        if self._starved:
            log.warning("watchdog fed again")
        self._starved = False
        return True

    def _beating(self):
        until = read_beat(self.root)
        now = clock.now()
        if until is not None:
            return now <= until
        return now - self._armed_at <= START_GRACE

    def close(self):
        """Disarm (a clean stop must not reboot the host)."""
        if self.device is not None:
            self.device.disarm()
            log.info("watchdog disarmed")
        self.device = None
        self.problem = None

    def _raise_alert(self, text):
        try:
            from halizard.alerts import raise_alert
            raise_alert("self_fence", text, root=self.root)
        except Exception as exc:  # noqa: BLE001 - an alert never stops the service
            log.warning("alert not raised ({}): {}", type(exc).__name__, text)
