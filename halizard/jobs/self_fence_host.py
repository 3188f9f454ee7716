"""What the self_fence job reads from this host and does to it, each within a bound, all through its Env.

Why a module of its own: the job (halizard.jobs.self_fence) judges and decides; these are its eyes
and hands: the host's files re-read only when they change, the peers probed all at once, the local
domains listed and destroyed with a bound (a hung `xl` must never hold a check), the flags and the
host record a self-fence sets.
"""
import collections
import os
import threading

from halizard.core import timing

Seen = collections.namedtuple("Seen", "role self_uuid hosts")  # this host's role and uuid, its pool view's hosts


def probe_all(platform, policy, peers, seconds):
    """({uuid: reached by network}, heuristics True/False/None): every peer and heuristic address
    probed at once in one sweep (halizard.probes.sweep), all ending within `seconds`.

    A probe that did not answer in time, or could not run here, counts as not reaching (fail safe)."""
    from halizard.jobs import host_health
    from halizard.probes import sweep
    from halizard.probes.deadline import after

    if not peers and not policy.heuristics_configured:
        return {}, None
    targets = [(("peer", uuid), platform.probe_target(address)) for uuid, address in peers]
    if policy.heuristics_configured:
        targets += host_health.heuristic_targets(platform, policy)
    results = sweep.probe_all(targets, after(seconds), platform.source_address())
    return ({uuid: results[("peer", uuid)].ok for uuid, _address in peers},
            host_health.heuristics_of(results, policy))


def cached_hosts(view):
    return [h for h in (view or {}).get("hosts", []) if isinstance(h, dict) and h.get("uuid")]


def stat_key(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Reader:
    """This host's configuration and files through the job's Env, re-read only when one of them
    changed (stat keys); also what one run of the job carries from check to check."""

    def __init__(self, env):
        from halizard import paths
        from halizard.config import cache
        from halizard.config.effective import POOL_CACHE

        self.env = env
        root = env.root
        self._config_paths = (paths.under(root, paths.OVERRIDE_FILE), cache.state_path(root, POOL_CACHE))
        self._paths = {"pool.conf": paths.under(root, paths.POOL_CONF),
                       "inventory": paths.under(root, paths.INVENTORY),
                       "pool-view": env.state.path("pool-view")}
        self._memo = {}
        self.end = None  # the run's end in clock.boot() time: no wait in a check outlasts it
        self.watchdog = False  # SELF_FENCE_WATCHDOG is on: each check tells the backstop until when it acts
        self.note = None  # (Outcome, sentence) of the last check that judged nothing (HA off, refused, no view)

    def beat(self, valid_until):
        """Tell the watchdog backstop (halizard.supervisor.watchdog) this job acts until `valid_until`."""
        if self.watchdog:
            from halizard.jobs.beat import write_beat
            write_beat(self.env.root, valid_until)

    def platform(self):
        """This host's platform (simulated or dom0): the Env's."""
        return self.env.platform

    def _cached(self, name, keys, load):
        entry = self._memo.get(name)
        if entry is not None and entry[0] == keys:
            return entry[1]
        value = load()
        self._memo[name] = (keys, value)
        return value

    def config(self):
        def load():
            _uuid, other = self.env.cached_pool()
            return self.env.effective(pool_other_config=other or {})
        return self._cached("config", tuple(stat_key(p) for p in self._config_paths), load)

    def self_uuid(self):
        return self._cached("inventory", stat_key(self._paths["inventory"]),
                            lambda: _known(self.env.self_uuid(), "this host's uuid (inventory)"))

    def role(self):
        return self._cached("pool.conf", stat_key(self._paths["pool.conf"]),
                            lambda: _known(self.env.role(), "this host's role (pool.conf)"))

    def hosts(self):
        return self._cached("pool-view", stat_key(self._paths["pool-view"]),
                            lambda: cached_hosts(self.env.state.read("pool-view", {})))


def _known(value, what):
    """`value`, or HostInfoError when the host file behind it is unreadable: the check fails (said once)."""
    if value is None:
        from halizard.hostinfo import HostInfoError
        raise HostInfoError("%s is unknown" % what)
    return value


def list_domains(env, platform, seconds=None):
    """The local domains, or None when listing them failed or did not finish within timing.DOMAIN_LIST_SECONDS.

    Why None: a host that judged itself isolated cannot tell "nothing runs" from "cannot see"; the
    core counts None as running, so the self-fence ends in the reboot (fail closed)."""
    result = bounded(platform.local_domains, timing.DOMAIN_LIST_SECONDS if seconds is None else seconds)
    if isinstance(result, list):
        return result
    env.log.error("self-fence: the local domains cannot be listed ({}); they count as running", result)
    return None


def bounded(call, seconds):
    """call()'s value, or a one-line reason when it raised or outlived `seconds` (left behind in a
    daemon thread: a hung `xl` must not hold the check nor the process's exit)."""
    box = {}

    def target():
        try:
            box["value"] = call()
        except Exception as exc:  # noqa: BLE001 - any failure is reported as a reason
            box["error"] = "%s: %s" % (type(exc).__name__, exc)
    thread = threading.Thread(target=target, name="sfcall", daemon=True)
    thread.start()
    thread.join(max(0.0, seconds))
    if thread.is_alive():
        return "no answer within %g s" % seconds
    return box["error"] if "error" in box else box.get("value")


def stop_domains(env, platform, vm_uuids, until, what="self-fence"):
    """Destroy every domain at once (one daemon thread each) and wait until they are done or `until`
    (env.clock.boot() time) passes; returns the VMs not confirmed destroyed."""
    done, threads = set(), []

    def one(vm):
        try:
            platform.destroy_domain(vm)
            done.add(vm)
            env.log.warning("{}: domain of VM {} destroyed", what, vm)
        except Exception as exc:  # noqa: BLE001 - a failed stop ends in the reboot, never in silence
            env.log.error("{}: VM {} not destroyed: {}", what, vm, exc)
    for vm in vm_uuids:
        thread = threading.Thread(target=one, args=(vm,), name="sfstop", daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(max(0.0, until - env.clock.boot()))
    return [vm for vm in vm_uuids if vm not in done]


SUSPENDED_FLAG = "ha-suspended"


def suspend_vm_starts(env, why):
    """Raise the HA-suspended flag the VM jobs honour (halizard.suspension.is_suspended) while self-fenced."""
    if not (env.state.read(SUSPENDED_FLAG, {}) or {}).get("suspended"):
        env.state.write(SUSPENDED_FLAG, {"suspended": True, "by": "self_fence", "since": env.clock.wall(),
                                         "why": why})


def resume_vm_starts(env):
    """Lower that flag, but only if the self-fence raised it."""
    if (env.state.read(SUSPENDED_FLAG, {}) or {}).get("by") == "self_fence":
        env.state.remove(SUSPENDED_FLAG)


def set_enabled(env, host_uuid, enabled, policy):
    """A self-fencing master disables itself in its own database so nothing places VMs on it
    (its other jobs would restart what it just stopped); enabled again when whole. Best effort,
    within min(2, XE_TIMEOUT) s; True when done."""
    from halizard.xapi.errors import XapiError
    try:
        session = env.connect(timeout=max(0.5, min(2.0, policy.XE_TIMEOUT)))
    except XapiError as exc:
        env.log.warning("self-fence: own xapi not answering ({}); host left {}", type(exc).__name__,
                        "disabled" if enabled else "enabled")
        return False
    try:
        host = session.xenapi.host
        ref = host.get_by_uuid(host_uuid)
        (host.enable if enabled else host.disable)(ref)
        env.log.warning("self-fence: this host {} so no VM is placed here meanwhile",
                        "re-enabled" if enabled else "disabled")
        return True
    except XapiError as exc:
        env.log.warning("self-fence: host.{} failed ({})", "enable" if enabled else "disable", type(exc).__name__)
        return False
    finally:
        session.logout()
