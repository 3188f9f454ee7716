"""Master-failure helpers (B2): who is master, who takes over, who follows whom.

Why: each scenario file names the pool, the fault and what must follow; how to read the autopromote
winner, a host's pool.conf or its takeover state lives here.
"""
import os

from .base import wait_until


def autopromote(sc):
    """The pool's autopromote_uuid as the current master's database says ('' when unset)."""
    def read(x):
        ref = x.pool.get_all()[0]
        return (x.pool.get_other_config(ref) or {}).get("autopromote_uuid", "")
    current = masters(sc)
    return sc.xapi(read, host=current[0] if len(current) == 1 else None)


def name_of(sc, uuid):
    for h in sc.pool.hosts:
        if h["uuid"] == uuid:
            return h["name_label"]
    return None


def pool_conf(sc, name):
    with open(os.path.join(sc.host_root(name), "etc", "xensource", "pool.conf"), encoding="utf-8") as handle:
        return handle.read().strip()


def wait_takeover_slave(sc, timeout=40):
    """Until the master named a takeover slave and that slave cached it; returns its name."""
    def named():
        value = autopromote(sc)
        return value if value and value != "none_available" else None
    uuid = wait_until(named, timeout, interval=0.3, message="the master naming a takeover slave")
    winner = name_of(sc, uuid)

    def cached():
        report = sc.supervisor(winner).state("master-watch", {}) or {}
        return report.get("autopromote") == uuid and report.get("master") == "answers"
    wait_until(cached, timeout, interval=0.3, message="%s caching that it is the takeover slave" % winner)
    return winner


def masters(sc):
    """Names of the hosts the simulator reports as master (powered on)."""
    return sorted(h["name_label"] for h in sc.status()["hosts"] if h["role"] == "master" and h["power"] == "on")


def wait_master(sc, name, timeout):
    return wait_until(lambda: masters(sc) == [name], timeout, interval=0.3,
                              message="%s as the only master (now %s)" % (name, masters(sc)))


def takeover_phase(sc, name):
    return (sc.supervisor(name).state("takeover", {}) or {}).get("phase", "idle")


def is_suspended(sc, name):
    return bool((sc.supervisor(name).state("suspended", {}) or {}).get("suspended"))
