"""SimPool's roles and transitions: time passing, masters and slaves, resyncs, liveness, domains.

Why: what XAPI itself decides as hosts come and go (an emergency transition,
pool.recover_slaves, a rebooted slave telling its master what really runs),
kept apart from the wire (pool.py) and from the faults that cause it.
"""
import os
import time

from halizard import paths
from halizard.sim import roots
from halizard.sim.api.common import (RUNNING_STATES, add_markers, clear_markers, halt_in_db, marker_key,
                                     set_resident, set_vbds_attached)
from halizard.sim.db import now_datetime
from halizard.sim.spec import dom0_uuid_of

ANSWER_GRACE = 0.2  # seconds a restarting xapi still answers the call that restarted it


class RolesMixin(object):
    """Part of SimPool (its state lives there): roles, transitions, liveness and domains."""

    # ---------------------------------------------------------- time passing
    def _tick(self):
        """Apply what became due: thaws, promotions, resyncs after faults, lost VMs."""
        now = self.clock()
        thawed = [h for h in self._thaws if now >= self.world.hosts[h].frozen_until]
        for host_uuid in thawed:  # the timer only wakes a pool nobody polls
            self._end_freeze(host_uuid)
        if thawed:
            self._sync_check()
        for host_uuid, due in list(self.promote_at.items()):
            if now >= due and not self.world.frozen(host_uuid):  # a frozen dom0 finishes it once resumed
                del self.promote_at[host_uuid]
                self._promote(host_uuid)
        for host_uuid in list(self.dirty):
            if self._resync(host_uuid, self.dirty[host_uuid]):
                self.dirty.pop(host_uuid, None)
        self._check_lost(now)

    def _notify(self):
        with self._changed:
            self._changed.notify_all()

    def wait_for_change(self, timeout):
        """Block (without the pool lock) until something changes or timeout passes."""
        with self._changed:
            self._changed.wait(timeout)

    # ------------------------------------------------ roles and transitions
    def db_of(self, host_uuid):
        """The database a host's xapi serves (its own as master, else its master's)."""
        if self.role[host_uuid] == "master":
            return self.dbs[host_uuid]
        return self.dbs.get(self.master_of[host_uuid])

    def _write_root(self, host_uuid):
        """Directories, pool.conf, inventory and name of a host root (roots.py formats)."""
        host = self.host_specs[host_uuid]
        if not host.root:
            return
        for sub in ("etc/xensource", "etc/ha-lizard", "var/lib/ha-lizard"):
            os.makedirs(os.path.join(host.root, sub), exist_ok=True)
        self._write_pool_conf(host_uuid)
        roots.update_sim_marker(host.root, name_label=host.name_label)
        inventory = paths.under(host.root, paths.INVENTORY)
        if not os.path.exists(inventory):
            roots.atomic_write(inventory, roots.INVENTORY_TEMPLATE.format(
                host_uuid=host_uuid, dom0_uuid=dom0_uuid_of(host_uuid)))

    def _write_pool_conf(self, host_uuid):
        host = self.host_specs[host_uuid]
        if not host.root:
            return
        master = None
        if self.role[host_uuid] != "master":
            master = self.host_specs[self.master_of[host_uuid]].address
        roots.write_pool_conf(host.root, master)

    def begin_emergency_transition(self, host_uuid):
        """pool.emergency_transition_to_master: xapi down for `fuse` s, then master."""
        if self.role[host_uuid] == "master" or host_uuid in self.promote_at:
            return
        now = self.clock()
        due = now + self.spec.fuse
        truth = self.world.hosts[host_uuid]
        # the call itself is answered; xapi goes down right after, for the rest of the fuse
        truth.restart_from = now + min(ANSWER_GRACE, self.spec.fuse / 2.0)
        truth.restart_until = due
        self.promote_at[host_uuid] = due
        self._drop_local_sessions(host_uuid)

    def _sync_check(self):
        """Slaves that just lost contact with their master keep the copy they had then.

        That copy (shared between slaves losing contact at the same moment) is
        what an emergency transition promotes: changes the master made while
        the slave could not see it are, as in life, not in the new master's view.
        """
        shared = {}
        for host_uuid in self.host_uuids:
            if self.role[host_uuid] != "slave":
                continue
            master = self.master_of[host_uuid]
            if self.role.get(master) == "master" and self.world.answers(host_uuid, master):
                self.synced.pop(host_uuid, None)
            elif host_uuid not in self.synced and master in self.dbs:
                if master not in shared:
                    shared[master] = self.dbs[master].snapshot()
                self.synced[host_uuid] = shared[master]

    def _promote(self, host_uuid):
        old_master = self.master_of.get(host_uuid)
        source = self.synced.pop(host_uuid, None) or self.dbs.get(old_master)
        if source is None:  # the master it pointed at was itself demoted: use any surviving copy
            source = self.db_of_status()
        db = source.snapshot()
        host_ref = self.host_refs[host_uuid]
        for pool_ref in db.refs("pool"):
            db.set("pool", pool_ref, master=host_ref)
        if db.exists("host", host_ref):
            db.set("host", host_ref, enabled=True)
        self.role[host_uuid] = "master"
        self.master_of.pop(host_uuid, None)
        self.dbs[host_uuid] = db
        self._epochs += 1
        self.epoch[host_uuid] = self._epochs
        self._write_pool_conf(host_uuid)
        self.dirty[host_uuid] = False

    def recover_slaves(self, master_uuid):
        """pool.recover_slaves: re-point every reachable live host; returns their refs."""
        db = self.dbs[master_uuid]
        recovered = []
        for host_ref in db.refs("host"):
            other = self.host_by_ref.get(host_ref)
            if other is None or other == master_uuid:
                continue
            if not (self.world.answers(master_uuid, other) and self.world.answers(other, master_uuid)):
                continue
            self.point_at(other, master_uuid)
            recovered.append(host_ref)
        return recovered

    def point_at(self, host_uuid, master_uuid):
        """Make host_uuid a slave of master_uuid (its own database, if any, is dropped)."""
        if self.role[host_uuid] == "master":
            self.dbs.pop(host_uuid, None)
            self.epoch.pop(host_uuid, None)
        self.role[host_uuid] = "slave"
        self.master_of[host_uuid] = master_uuid
        self.synced.pop(host_uuid, None)
        self.promote_at.pop(host_uuid, None)
        self._drop_local_sessions(host_uuid)
        self._write_pool_conf(host_uuid)
        self.dirty[host_uuid] = False

    def _drop_local_sessions(self, host_uuid):
        for ref in [r for r, h in self.local_sessions.items() if h == host_uuid]:
            del self.local_sessions[ref]

    def _resync(self, host_uuid, booted):
        """A host's xapi tells its master what really runs there. True when done."""
        truth = self.world.hosts[host_uuid]
        if truth.power != "on":
            return True
        if self.world.xapi_state(host_uuid) != "up":
            return False
        if self.role[host_uuid] == "master":
            db = self.dbs[host_uuid]
        else:
            master = self.master_of[host_uuid]
            if self.role.get(master) != "master" or not self.world.answers(host_uuid, master):
                return False
            db = self.dbs[master]
        host_ref = self.host_refs[host_uuid]
        if not db.exists("host", host_ref):
            return True
        local = set(self.world.local_domains(host_uuid))
        for vm_ref in list(db.get("host", host_ref)["resident_VMs"]):
            rec = db.get("VM", vm_ref)
            if rec["is_control_domain"] or rec["power_state"] not in RUNNING_STATES:
                continue
            if rec["uuid"] not in local:
                halt_in_db(db, vm_ref, clear_disks=False)
                clear_markers(db, vm_ref, host_ref)
        self._clear_stale_markers(db, host_ref, local)
        if booted:
            metrics = db.field("host", host_ref, "metrics")
            if db.exists("host_metrics", metrics):
                db.set("host_metrics", metrics, live=True)
            db.set("host", host_ref, enabled=True)
        return True

    def _clear_stale_markers(self, db, host_ref, local):
        """The host detaches disks of VMs it does not really run (e.g. after a boot)."""
        key = marker_key(host_ref)
        for vdi_ref, vdi in db.items("VDI"):
            if key not in vdi["sm_config"]:
                continue
            runs_here = False
            for vbd_ref in vdi["VBDs"]:
                if db.exists("VBD", vbd_ref):
                    vm_ref = db.field("VBD", vbd_ref, "VM")
                    if db.exists("VM", vm_ref) and db.field("VM", vm_ref, "uuid") in local:
                        runs_here = True
            if not runs_here:
                del vdi["sm_config"][key]
                db.touch("VDI", vdi_ref)

    # ------------------------------------------------------------ liveness
    def xapi_state(self, host_uuid):
        """'up', 'hung' or 'down' (powered off or restarting).

        Read without the pool's lock while nothing is due (no thaw, promotion, resync or lost VM
        waits for _tick). Why: every request asks this two or three times; under the one lock the
        whole database shares, a 64-host pool's requests queued behind one another there (each
        handoff also waits for the interpreter lock), 1,400 threads deep, and the master looked dead."""
        if not (self.promote_at or self._thaws or self.dirty or self.world.lost_since):
            return self.world.xapi_state(host_uuid, settle=False)
        with self._lock:
            self._tick()
            return self.world.xapi_state(host_uuid)

    def can_reach(self, client_addr, host_uuid):
        """Whether a packet from client_addr reaches host_uuid (partitions, links, power).

        Read without the pool's lock, as `frozen`: the network does not wait for the database.
        Under that lock a large `event.from` copies thousands of records; a 64-host pool's ~4,000
        probes a second waited behind such reads for seconds, and every host lost quorum at once.
        The reads are single attribute, dict and set lookups, each atomic; a fault changed
        meanwhile is seen by the next probe, as on a real network."""
        world = self.world
        return world.can_reach(world.host_of_address(client_addr), host_uuid)

    def frozen(self, host_uuid):
        """Whether the host's dom0 is frozen now (its network answers hang until it resumes); no lock
        (see can_reach)."""
        return self.world.frozen(host_uuid)

    def can_send(self, client_addr):
        """Whether a packet from client_addr leaves its host at all (outside callers always can).

        An unplugged host's service keeps running, but its packets never reach an endpoint that
        stands outside the pool (the outer dom0); a powered-off host sends nothing (power-off also
        kills its registered service, but a test may still send from its address).
        """
        with self._lock:
            uuid = self.world.host_of_address(client_addr)
            if uuid is None:
                return True
            truth = self.world.node(uuid)
            return truth.power == "on" and truth.link_up

    def host_answers_master(self, master_uuid, host_ref):
        """Whether the host behind host_ref answers its master's xapi (HOST_IS_LIVE)."""
        host_uuid = self.host_by_ref.get(host_ref)
        return host_uuid is not None and self.world.answers(master_uuid, host_uuid)

    # ----------------------------------------------------------- domains
    def start_domain(self, db, vm_ref, host_uuid, paused=False):
        """Ground truth and database agree a VM now runs on host_uuid."""
        host_ref = self.host_refs[host_uuid]
        vm_uuid = db.field("VM", vm_ref, "uuid")
        self.world.start_domain(vm_uuid, host_uuid, paused=paused)
        set_resident(db, vm_ref, host_ref, "Paused" if paused else "Running")
        set_vbds_attached(db, vm_ref, True)
        add_markers(db, vm_ref, host_ref)
        metrics = db.field("VM", vm_ref, "metrics")
        if db.exists("VM_metrics", metrics):
            db.set("VM_metrics", metrics, start_time=now_datetime(time.time()))
        self._domid = getattr(self, "_domid", 10000) + 1
        db.set("VM", vm_ref, domid=str(self._domid))

    def stop_domain(self, db, vm_ref, by_fault=False):
        """The VM's domain on its resident host ends; the database says Halted."""
        rec = db.get("VM", vm_ref)
        host_uuid = self.host_by_ref.get(rec["resident_on"])
        if host_uuid is not None:
            self.world.stop_domain(rec["uuid"], host_uuid, by_fault=by_fault)
        if not by_fault:
            self.world.operator_stopped(rec["uuid"])
        halt_in_db(db, vm_ref, clear_disks=True)

