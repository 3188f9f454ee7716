"""Ground truth of a simulated pool: what really happens, apart from XAPI's beliefs.

Why: an HA manager is judged on reality (is a VM running twice? is it running
at all?), not on what a possibly stale database says. This module holds host
power, xapi liveness, links, partitions and which domains really run where,
and records every double-run the moment it happens, so it is never lost.

A domain is either executing or paused (it exists, holds its memory and disks,
is listed by `xl list`, but runs no guest code: a live migration's source in
its last step, a domain xenopsd built and has not unpaused yet). Only
executing domains count as a run: two executing domains of one VM are a
double run, a paused one beside an executing one is not (as during every live
migration), and unpausing it then is.
"""
from halizard.sim.links import GATEWAY, WITNESS, Links


class HostTruth(object):
    """The physical state of one host."""

    def __init__(self, uuid, name_label, address):
        self.uuid = uuid
        self.name_label = name_label
        self.address = address
        self.power = "on"
        self.hung = False
        self.restart_from = None  # xapi is down (restarting) from this clock time ...
        self.restart_until = None  # ... until this one
        self.link_up = True
        self.disk_ok = True
        self.frozen_until = None  # clock time a frozen dom0 resumes (sim fault freeze), None when running


class World(object):
    """Hosts, domains, reachability and violations. Not thread-safe: SimPool locks."""

    def __init__(self, clock):
        self.clock = clock
        self.hosts = {}  # uuid -> HostTruth
        self.by_address = {}
        self.domains = {}  # vm uuid -> set of host uuids where a domain of it exists (executing or paused)
        self.paused = set()  # (vm uuid, host uuid) of the domains that exist but run no guest code
        self.vm_names = {}  # vm uuid -> name_label (for readable violations)
        self.links = Links()  # partitions and cut links between nodes (hosts, the gateway)
        self.gateway = None  # HostTruth of the pool's gateway (node id GATEWAY), when it has one
        self.witness = None  # HostTruth of the pool's witness (node id WITNESS), when it has one
        self.violations = []
        self.lost_since = {}  # vm uuid -> clock time its last domain died by a fault
        self.start_log = []  # (clock, vm uuid, host uuid) every domain start

    # --- hosts ------------------------------------------------------------
    def add_host(self, uuid, name_label, address):
        truth = HostTruth(uuid, name_label, address)
        self.hosts[uuid] = truth
        self.by_address[address] = uuid
        return truth

    def add_gateway(self, address):
        """The pool's gateway: a node that answers the reachability probe and runs nothing."""
        self.gateway = HostTruth(GATEWAY, GATEWAY, address)
        self.by_address[address] = GATEWAY
        return self.gateway

    def add_witness(self, address):
        """The pool's witness: a node outside the pool that runs the witness service and nothing else."""
        self.witness = HostTruth(WITNESS, WITNESS, address)
        self.by_address[address] = WITNESS
        return self.witness

    def node(self, node_id):
        """The HostTruth of a host uuid, of the gateway or of the witness."""
        if node_id == GATEWAY and self.gateway is not None:
            return self.gateway
        if node_id == WITNESS and self.witness is not None:
            return self.witness
        return self.hosts[node_id]

    def nodes(self):
        """Every node id: the host uuids, then the gateway's and the witness's."""
        return (list(self.hosts) + ([GATEWAY] if self.gateway is not None else [])
                + ([WITNESS] if self.witness is not None else []))

    def xapi_state(self, host_uuid, settle=True):
        """'up', 'hung' or 'down' (powered off or restarting). With settle=False nothing is written
        (an ended restart window is left for a reader under the pool lock to clear)."""
        host = self.hosts[host_uuid]
        if host.power != "on":
            return "down"
        if self.frozen(host_uuid):
            return "hung"
        restart_from, restart_until = host.restart_from, host.restart_until
        if restart_until is not None:
            now = self.clock()
            if now >= restart_until:
                if settle:
                    host.restart_from = host.restart_until = None
            elif restart_from is None or now >= restart_from:
                return "down"
        return "hung" if host.hung else "up"

    def frozen(self, node_id):
        """Whether the host's dom0 is frozen now: its xapi and its network answers hang (never the gateway
        or the witness)."""
        until = getattr(self.node(node_id), "frozen_until", None)
        return until is not None and self.clock() < until

    def host_of_address(self, address):
        return self.by_address.get(address)

    def can_reach(self, src_uuid, dst_uuid):
        """Whether traffic from src (None = the outside world) reaches dst (host uuids, GATEWAY, WITNESS)."""
        dst = self.node(dst_uuid)
        if dst.power != "on":
            return False
        if src_uuid == dst_uuid:
            return True
        if not dst.link_up:
            return False
        if src_uuid is None:
            return True
        src = self.node(src_uuid)
        if src.power != "on" or not src.link_up:
            return False
        return self.links.passes(src_uuid, dst_uuid)

    def answers(self, src_uuid, dst_uuid):
        """Whether dst's xapi answers a call from src."""
        return self.can_reach(src_uuid, dst_uuid) and self.xapi_state(dst_uuid) == "up"

    def partition(self, groups):
        """groups: lists of node ids; nodes left out (hosts and the gateway) form one more group."""
        self.links.partition(groups, self.nodes())

    def heal(self):
        """Every partition and cut link ends (a host's own link-down stays: link-up ends it)."""
        self.links.heal()

    # --- domains ----------------------------------------------------------
    def start_domain(self, vm_uuid, host_uuid, paused=False):
        """A domain of the VM now exists on the host, executing unless `paused`."""
        where = self.domains.setdefault(vm_uuid, set())
        where.add(host_uuid)
        self.start_log.append((self.clock(), vm_uuid, host_uuid))
        if paused:
            self.paused.add((vm_uuid, host_uuid))
        else:
            self.paused.discard((vm_uuid, host_uuid))
            self.lost_since.pop(vm_uuid, None)
            self._check_double_run(vm_uuid)

    def pause_domain(self, vm_uuid, host_uuid):
        """The domain stops running guest code but stays (xl pause). False when there is none."""
        if host_uuid not in self.domains.get(vm_uuid, ()):
            return False
        self.paused.add((vm_uuid, host_uuid))
        return True

    def unpause_domain(self, vm_uuid, host_uuid):
        """The paused domain runs guest code again: a double run if the VM executes elsewhere."""
        if (vm_uuid, host_uuid) not in self.paused:
            return False
        self.paused.discard((vm_uuid, host_uuid))
        self.lost_since.pop(vm_uuid, None)
        self._check_double_run(vm_uuid)
        return True

    def _check_double_run(self, vm_uuid):
        executing = self.running_on(vm_uuid)
        if len(executing) > 1:
            names = sorted(self.hosts[h].name_label for h in executing)
            self.add_violation("%s running on %s at the same time" % (
                self.vm_names.get(vm_uuid, vm_uuid), " and ".join(names)))

    def stop_domain(self, vm_uuid, host_uuid, by_fault):
        """Ends the domain; by_fault starts the lost clock when it executes nowhere else."""
        where = self.domains.get(vm_uuid)
        if not where or host_uuid not in where:
            return False
        where.discard(host_uuid)
        self.paused.discard((vm_uuid, host_uuid))
        if not where:
            del self.domains[vm_uuid]
        if by_fault and not self.running_on(vm_uuid):
            self.lost_since.setdefault(vm_uuid, self.clock())
        return True

    def kill_host(self, host_uuid):
        """Every domain on the host dies (power loss). Returns the VM uuids."""
        dead = [vm for vm, where in self.domains.items() if host_uuid in where]
        for vm_uuid in dead:
            self.stop_domain(vm_uuid, host_uuid, by_fault=True)
        return dead

    def running_on(self, vm_uuid):
        """Hosts where the VM's domain executes (paused domains excluded)."""
        return sorted(h for h in self.domains.get(vm_uuid, ()) if (vm_uuid, h) not in self.paused)

    def paused_on(self, vm_uuid):
        """Hosts where a paused domain of the VM exists."""
        return sorted(h for h in self.domains.get(vm_uuid, ()) if (vm_uuid, h) in self.paused)

    def local_domains(self, host_uuid):
        """Every domain on the host, executing or paused (what `xl list` shows)."""
        return sorted(vm for vm, where in self.domains.items() if host_uuid in where)

    def operator_stopped(self, vm_uuid):
        """An operator shut the VM down on purpose: it is not lost."""
        self.lost_since.pop(vm_uuid, None)

    def add_violation(self, text):
        if text not in self.violations:
            self.violations.append(text)
