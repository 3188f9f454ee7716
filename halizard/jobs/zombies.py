"""Job `zombies`: destroy local domains of VMs the pool says run elsewhere.

Why: a host back from a failure (or a healed split) may still run domains of
VMs the pool already restarted on another host: two copies writing one disk.
Each run lists this host's real domains through the platform layer, reads
the pool, and lets the core (core.zombies.find) name the zombies; each is
confirmed once more (local domains and the VM record read again) right
before it is destroyed through the platform layer, so a migration or start
finishing between the two reads is never mistaken for a zombie.
"""
from halizard.jobs.base import Outcome, Report
from halizard.xapi.view import watch
from halizard.platform.base import PlatformError


def find_zombies(platform, session, ha_key, self_uuid, view=None):
    """Core DestroyDomain actions for this host (local domains read before the pool).

    view: a halizard.xapi.view.PoolWatch (event-driven, issue 16); None reads the whole pool.
    """
    from halizard.core import zombies
    from halizard.xapi.observe import read_snapshot

    local = platform.local_domains()
    if not local:
        return (), None
    if view is None:
        snapshot = read_snapshot(session, ha_key)
    else:  # no free memory needed: nothing is placed
        snapshot = view.snapshot(session, ha_key, free_memory=False)
    return zombies.find(snapshot.pool, self_uuid, local), snapshot


def destroy_zombie(platform, action):
    """Destroy one local domain (core DestroyDomain) through the platform layer; (done, text)."""
    try:
        platform.destroy_domain(action.vm_uuid)
        return True, "zombie domain of %s destroyed: %s" % (action.vm_uuid, action.why)
    except PlatformError as exc:
        return False, "zombie domain of %s not destroyed: %s" % (action.vm_uuid, exc)


def still_zombie(platform, session, snapshot, vm_uuid, self_uuid):
    """Re-read: the domain still runs here, and XAPI still places the VM elsewhere, no operation."""
    from halizard.xapi.observe import NULL_REF

    if vm_uuid not in platform.local_domains():
        return False
    record = session.xenapi.VM.get_record(snapshot.vm_refs[vm_uuid])
    resident = record.get("resident_on")
    if not resident or resident == NULL_REF or resident == snapshot.host_refs.get(self_uuid):
        return False
    return not (record.get("current_operations") or {})


def run(env):
    """One check; returns a Report (halizard.jobs.base)."""
    from halizard.xapi.errors import XapiError

    me = env.self_uuid()
    if not me:
        return Report(Outcome.FAILED, "zombie check impossible: this host's uuid is unknown (inventory)")
    platform = env.platform
    try:
        local = platform.local_domains()
    except PlatformError as exc:
        return Report(Outcome.FAILED, "zombie check impossible: local domains unknown (%s)" % exc)
    if not local:
        return Report(Outcome.IDLE, "no VM domain runs here: nothing to check")  # no need to ask the pool
    session, why = env.try_session()
    if session is None:
        return Report(Outcome.SKIPPED, "zombie check skipped: the master does not answer (%s)" % why)
    destroyed = failed = 0
    try:
        key = getattr(env.config, "xc_field_key", "XenCenter.CustomFields.ha-lizard-enabled")
        found, snapshot = find_zombies(platform, session, key, me, view=watch(env.root, env.state, env.log, env.remaining()))
        for action in found:
            if not still_zombie(platform, session, snapshot, action.vm_uuid, me):
                continue
            done, text = destroy_zombie(platform, action)
            (env.log.warning if done else env.log.error)("{}", text)
            destroyed, failed = destroyed + bool(done), failed + (not done)
    except (XapiError, PlatformError) as exc:
        return Report(Outcome.FAILED, "zombie check incomplete: %s" % exc)
    finally:
        session.logout()
    if failed:
        return Report(Outcome.DEGRADED, "%d zombie domain(s) destroyed, %d NOT destroyed" % (destroyed, failed))
    if destroyed:
        return Report(Outcome.DONE, "%d zombie domain(s) destroyed" % destroyed)
    return Report(Outcome.QUIET, "no zombie among %d local domain(s)" % len(local))
