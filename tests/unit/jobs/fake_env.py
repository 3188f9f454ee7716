"""The test double of halizard.jobs.base.Env: settable clocks, a scripted master, a fake platform.

Why: a job reaches the world only through its Env, so a unit test gives it
this one and checks what the job did (state files, alerts, log lines, its
Report) with no pool, no host files and no waiting: `sleep` advances the clocks.
"""
from halizard.config.effective import build_effective
from halizard.jobs.base import Env
from halizard.platform.base import DiskHealth, PlatformError
from halizard.statefiles import StateStore
from halizard.xapi.errors import XapiUnreachable

from recording_log import RecordingLog


class FakeClock:
    """All three clocks, moved together by `advance` (and by `sleep`)."""

    def __init__(self, wall=1800000000.0, mono=1000.0, boot=500.0):
        self.now_wall, self.now_mono, self.now_boot = wall, mono, boot
        self.slept = []

    def wall(self):
        return self.now_wall

    def monotonic(self):
        return self.now_mono

    def boot(self):
        return self.now_boot

    def boot_id(self):
        return "boot-1"

    def advance(self, seconds):
        self.now_wall += seconds
        self.now_mono += seconds
        self.now_boot += seconds

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.advance(seconds)


class _Calls:
    """`session.xenapi.<class>.<method>(...)` answered from a dict "class.method" -> value or callable."""

    def __init__(self, answers, calls, prefix=""):
        self._answers, self._calls, self._prefix = answers, calls, prefix

    def __getattr__(self, name):
        key = self._prefix + name
        if "." not in key:
            return _Calls(self._answers, self._calls, key + ".")

        def call(*args, **_options):  # timeout= and the like are not recorded
            self._calls.append((key,) + args)
            answer = self._answers[key]
            return answer(*args) if callable(answer) else answer
        return call


class FakeSession:
    def __init__(self, answers):
        self.calls = []
        self.xenapi = _Calls(answers, self.calls)
        self.logged_out = False

    def logout(self):
        self.logged_out = True


class FakePlatform:
    """The Platform calls the small jobs make; `error` makes every call raise PlatformError."""

    def __init__(self, domains=(), disk=DiskHealth(True, "PASSED"), error=None):
        self.domains, self.disk, self.error, self.destroyed = set(domains), disk, error, []

    def _check(self):
        if self.error:
            raise PlatformError(self.error)

    def local_domains(self):
        self._check()
        return sorted(self.domains)   # a list, as the real and simulated platforms return

    def destroy_domain(self, vm_uuid):
        self._check()
        self.domains.discard(vm_uuid)
        self.destroyed.append(vm_uuid)

    def disk_health(self):
        self._check()
        return self.disk

    def source_address(self):
        return "127.0.0.1"

    def peer_port(self, configured):
        return configured

    def peer_gate(self):
        return None


class FakeEnv(Env):
    """An Env whose world is all in memory (state files under `root`).

    Set `answers` ("class.method" -> value) for a master that answers, leave it
    None for a silent one; `pool_config` is the pool's other_config effective()
    reads; `alerts` collects what the job raised.
    """

    def __init__(self, root, name="job", config=None, deadline=None):
        root = str(root)
        super().__init__(root, name, config=dict(config or {}), deadline=deadline, log=RecordingLog(),
                         state=StateStore(directory=root + "/state"))
        self.clock = FakeClock()
        self._platform = FakePlatform()
        self.uuid, self.pool_role = "h1", "master"
        self.master_at = "127.0.0.1"  # pool.conf's master address when pool_role is "slave"
        self.answers = None
        self.sessions = []
        self.pool_config = {}
        self.cached = ("pool-1", {})
        self.alerts = []

    def connect(self, timeout=None, shared=True):
        if self.answers is None:
            raise XapiUnreachable("http://localhost/", "connection refused")
        session = FakeSession(self.answers)
        self.sessions.append(session)
        return session

    def effective(self, pool_other_config=None, cache=True):
        return build_effective(self.pool_config if pool_other_config is None else pool_other_config,
                               hostname="host1")

    def cached_pool(self):
        return self.cached

    def self_uuid(self):
        return self.uuid

    def role(self):
        return self.pool_role

    def master_address(self):
        return self.master_at if self.pool_role == "slave" else None

    def alert(self, function, text, config=None, **options):
        self.alerts.append((function, text, options))
        return None
