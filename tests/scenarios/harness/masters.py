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
    """Until the pool is ready for a master fault: the master named a takeover slave, that slave
    cached it, and every running VM carries the pool's home-pool stamp (a VM halted by the fault
    before the master's first sweep stamped it is never started again: docs/install.md). Returns
    the takeover slave's name."""
    def named():
        value = autopromote(sc)
        return value if value and value != "none_available" else None
    uuid = wait_until(named, timeout, interval=0.3, message="the master naming a takeover slave")
    winner = name_of(sc, uuid)

    def cached():
        report = sc.supervisor(winner).state("master-watch", {}) or {}
        return report.get("autopromote") == uuid and report.get("master") == "answers"
    wait_until(cached, timeout, interval=0.3, message="%s caching that it is the takeover slave" % winner)
    wait_stamped(sc, timeout)
    return winner


def wait_stamped(sc, timeout):
    """Until every running VM of the pool carries the home-pool stamp (one XAPI read per poll)."""
    def stamped():
        def unstamped(x):
            return [r["name_label"] for r in x.VM.get_all_records().values()
                    if r["power_state"] == "Running" and not r["is_control_domain"] and not r["is_a_template"]
                    and not (r["other_config"] or {}).get("home-pool")]
        return not sc.xapi(unstamped, host=None)
    wait_until(stamped, timeout, interval=0.3, message="every running VM stamped with the pool's home-pool")


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
