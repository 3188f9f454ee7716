"""What the self_fence job reads from this host and how it asks it, each within a bound.

Why a module of its own: the job (halizard.jobs.self_fence) decides and acts; these are its eyes:
the host's files re-read only when they change, the peers probed all at once, the local domains
listed with a bound (a hung `xl` must never hold a check).
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

from halizard.core import timing


def probe_all(platform, policy, peers, seconds):
    """({uuid: reached by network}, heuristics True/False/None), all at once, within a bound.

    A probe still running `seconds + timing.PROBE_SLACK` after the start counts as
    not answering; its thread is left behind (it ends at its own deadline).
    """
    from halizard.jobs import host_health
    from halizard.probes import net
    from halizard.probes.deadline import after

    if not peers and not policy.heuristics_configured:
        return {}, None
    source = platform.source_address()

    def one(address):
        try:
            return net.probe(platform.probe_target(address), after(seconds), source).ok
        except (net.ProbeSetupError, net.ProbeInputError):
            return False  # this host's own probe: what it cannot reach counts as not reachable (fail safe)

    pool = ThreadPoolExecutor(max_workers=len(peers) + 1, thread_name_prefix="sfprobe")
    try:
        futures = {uuid: pool.submit(one, address) for uuid, address in peers}
        heur = pool.submit(host_health.heuristics_ok, platform, policy, seconds)
        bound = seconds * (1 + len(policy.FENCE_HEURISTICS_IPS or ())) + timing.PROBE_SLACK
        wait_futures(list(futures.values()) + [heur], timeout=bound)
    finally:
        pool.shutdown(wait=False)
    reached = {uuid: bool(f.done() and not f.exception() and f.result()) for uuid, f in futures.items()}
    if heur.done() and not heur.exception():
        heuristics = heur.result()
    else:
        heuristics = False if policy.heuristics_configured else None
    return reached, heuristics


def cached_hosts(view):
    return [h for h in (view or {}).get("hosts", []) if isinstance(h, dict) and h.get("uuid")]


def stat_key(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Reader:
    """This host's configuration and files, re-read only when one of them changed (stat keys)."""

    def __init__(self, root, state):
        from halizard import paths
        from halizard.config import cache
        from halizard.config.effective import POOL_CACHE

        self.root = root
        self.state = state
        self._config_paths = (paths.under(root, paths.OVERRIDE_FILE), cache.state_path(root, POOL_CACHE))
        self._paths = {"pool.conf": paths.under(root, paths.POOL_CONF),
                       "inventory": paths.under(root, paths.INVENTORY),
                       "pool-view": state.path("pool-view")}
        self._memo = {}
        self._platform = None
        self.end = None  # the run's end in clock.now() time: no wait in a check outlasts it
        self.watchdog = False  # SELF_FENCE_WATCHDOG is on: each check tells the backstop until when it acts

    def beat(self, valid_until):
        """Tell the watchdog backstop (halizard.supervisor.watchdog) this job acts until `valid_until`."""
        if self.watchdog:
            from halizard.jobs.beat import write_beat
            write_beat(self.root, valid_until)

    def platform(self):
        """This host's platform (simulated or dom0), made once per run."""
        if self._platform is None:
            from halizard.platform import get_platform
            self._platform = get_platform(self.root)
        return self._platform

    def _cached(self, name, keys, load):
        entry = self._memo.get(name)
        if entry is not None and entry[0] == keys:
            return entry[1]
        value = load()
        self._memo[name] = (keys, value)
        return value

    def config(self):
        from halizard.config.effective import cached_pool
        from halizard.xapi.pool_config import load_effective

        def load():
            _uuid, other = cached_pool(self.root)
            return load_effective(self.root, pool_other_config=other or {})
        return self._cached("config", tuple(stat_key(p) for p in self._config_paths), load)

    def self_uuid(self):
        from halizard import hostinfo
        return self._cached("inventory", stat_key(self._paths["inventory"]),
                            lambda: hostinfo.local_host_uuid(self.root))

    def role(self):
        from halizard import hostinfo
        return self._cached("pool.conf", stat_key(self._paths["pool.conf"]),
                            lambda: hostinfo.read_pool_conf(self.root)[0])

    def hosts(self):
        return self._cached("pool-view", stat_key(self._paths["pool-view"]),
                            lambda: cached_hosts(self.state.read("pool-view", {})))


def list_domains(ctx, platform, seconds=None):
    """The local domains, or None when listing them failed or did not finish within timing.DOMAIN_LIST_SECONDS.

    Why None: a host that judged itself isolated cannot tell "nothing runs" from "cannot see"; the
    core counts None as running, so the self-fence ends in the reboot (fail closed)."""
    result = bounded(platform.local_domains, timing.DOMAIN_LIST_SECONDS if seconds is None else seconds)
    if isinstance(result, list):
        return result
    ctx.log.error("self-fence: the local domains cannot be listed ({}); they count as running", result)
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
