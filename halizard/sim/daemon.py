"""A running simulated pool: assembly of every endpoint, and the background process.

Why: `ha-lizard sim up` must return while the pool keeps running, so the pool
lives in its own process (`python -m halizard.sim.daemon`, started detached by
the CLI). The same assembly (`assemble`) serves in-process tests, which want
a pool without a process. pool.json is written last and atomically: when it
exists, every endpoint is listening.
"""
import argparse
import errno
import json
import os
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from halizard.sim import roots
from halizard.sim.addresses import PEER_PORT, PROBE_PORT, AddressError, allocate_block
from halizard.sim.bmc import MAX_BMCS, BmcError, available, bmc_address, start_bmcs
from halizard.sim.control import start_control
from halizard.sim.local_socket import start_local_sockets
from halizard.sim.links import GATEWAY
from halizard.sim.outer import outer_vm_uuid, start_outer
from halizard.sim.probe import ProbeServer
from halizard.sim.server import close_all, start_servers
from halizard.sim.tls import pool_certificate, server_context

POOL_FILE = "pool.json"
PID_FILE = "sim.pid"
LOG_FILE = "sim.log"
HOSTS_DIR = "hosts"
BIND_ATTEMPTS = 6


def log(text):
    """One timestamped line on stderr (sim.log in the background process)."""
    sys.stderr.write("%s sim: %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), text))
    sys.stderr.flush()


@dataclass(eq=False, repr=False)  # no repr: it would show the passwords
class RunningPool(object):
    """A SimPool with its xapi, probe, control and outer endpoints listening."""

    directory: str
    spec: object
    pool: object
    block: object
    servers: object
    control: object
    outer: object
    bmcs: object = None
    token: Optional[str] = None
    gateway: object = None
    outer_password: Optional[str] = None
    witness: object = None  # SimWitness (`--witness`) or None
    stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def control_url(self):
        return self.control.url

    @property
    def outer_url(self):
        return self.outer.url

    def document(self):
        """The content of pool.json (architecture.md), plus the outer VM and the BMC of each host."""
        described = self.pool.describe()
        hosts = []
        for entry in described["hosts"]:
            hosts.append({
                "name_label": entry["name_label"],
                "uuid": entry["uuid"],
                "address": entry["address"],
                "xapi_url": self.servers.urls[entry["uuid"]],
                "root": entry.get("root") or host_root(self.directory, entry["name_label"]),
            })
        return {
            "password": self.spec.password,
            "control_url": self.control_url,
            # needed to register a host's service (`sim service`): the control endpoint then runs it
            "control_token": self.token,
            "outer_url": self.outer_url,
            # the outer dom0's own root password (not the pool's), for XVM's FENCE_PASSWD
            "outer_password": self.outer_password,
            "hosts": hosts,
            "vms": described["vms"],
            "outer_vms": {host["uuid"]: outer_vm_uuid(host["uuid"]) for host in hosts},
            # answers the reachability probe like a router would (FENCE_HEURISTICS_IPS); fault target "gateway"
            "gateway": described.get("gateway"),
            # each host's simulated BMC (IPMI lanplus, halizard/sim/bmc.py): address, port, user, password
            "bmcs": dict(self.bmcs.entries) if self.bmcs is not None else {},
            # the witness service (`--witness`): address, port and the secret for WITNESS_SECRET
            "witness": self.witness.entry if self.witness is not None else None,
        }

    def close(self):
        """Stop every endpoint (idempotent)."""
        if self.stopped.is_set():
            return
        self.stopped.set()
        self.pool.close()  # each host's service first, while its pool still answers
        self.servers.close()
        close_all([server for server in (self.control, self.outer, self.gateway, self.witness) if server is not None])
        if self.bmcs is not None:
            self.bmcs.close()


def host_root(directory, name_label):
    return os.path.join(os.path.abspath(directory), HOSTS_DIR, name_label)


@dataclass
class PoolOrder:
    """What `assemble` is asked for: the pool's size and timings, its extras, who hears about it."""

    hosts: int
    vms: int
    start_latency: float = 0.5
    fuse: float = 10.0
    password: Optional[str] = None
    on_shutdown: Optional[Callable] = None
    report: Optional[Callable] = None
    shutdown_latency: float = 0.1
    bmcs: bool = False
    witness: bool = False


def _build_spec(directory, block, order):
    from halizard.sim.spec import HostSpec, PoolSpec

    host_specs = [
        HostSpec("host%d" % (index + 1), block.host_address(index), host_root(directory, "host%d" % (index + 1)))
        for index in range(order.hosts)
    ]
    return PoolSpec(host_specs, vms=order.vms, password=order.password, start_latency=order.start_latency,
                    fuse=order.fuse, shutdown_latency=order.shutdown_latency)


def _master_address(pool):
    status = pool.status()
    described = {entry["uuid"]: entry["address"] for entry in pool.describe()["hosts"]}
    for host in status["hosts"]:
        if host["role"] == "master":
            return described[host["uuid"]]
    return None


def _write_roots(pool, control_url):
    master = _master_address(pool)
    pool_secret = secrets.token_hex(24)  # one per pool, on every host (etc/xensource/ptoken)
    for entry in pool.describe()["hosts"]:
        root = entry.get("root")
        if not root:
            continue
        roots.write_host_root(
            root, entry["uuid"], entry["address"],
            None if entry["address"] == master else master,
            control_url, PROBE_PORT,
        )
        roots.write_peer_files(root, PEER_PORT, pool_secret)


def _assemble_once(directory, block, order):
    from halizard.sim.pool import SimPool
    from halizard.sim.witness_node import SimWitness

    on_shutdown, report = order.on_shutdown, order.report
    spec = _build_spec(directory, block, order)
    pool = SimPool(spec)
    token = secrets.token_hex(16)
    started = []
    try:
        control = start_control(pool, block.control_address, on_shutdown=on_shutdown, token=token)
        started.append(control)
        outer_password = secrets.token_urlsafe(12)
        outer = start_outer(pool, outer_password, block.outer_address, server_context(*pool_certificate(directory)))
        started.append(outer)
        gateway = _start_gateway(pool, block.gateway_address)
        started.append(gateway)
        witness = SimWitness(pool, block.witness_address, directory) if order.witness else None
        if witness is not None:
            started.append(witness)
        bmcs = _start_bmcs(pool, block, control.url) if order.bmcs else None
        if bmcs is not None:
            started.append(bmcs)
        _write_roots(pool, control.url)
        servers = start_servers(pool, report=report)
        started.append(servers)
        start_local_sockets(pool, servers, report=report)
        if bmcs is not None:
            bmcs.wait_ready()
    except BaseException:
        close_all(started)
        pool.close()
        raise
    return RunningPool(directory, spec, pool, block, servers, control, outer, bmcs, token, gateway=gateway,
                       outer_password=outer_password, witness=witness)


def _start_gateway(pool, address):
    """The pool's gateway: its reachability endpoint on the probe port (links.py decides who reaches it)."""
    pool.add_gateway(address)
    server = ProbeServer(address, PROBE_PORT, pool, GATEWAY)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="probe-gateway",
                     daemon=True).start()
    return server


def _start_bmcs(pool, block, control_url):
    """One simulated BMC per host (the first MAX_BMCS hosts), sharing a random per-pool password.

    Only when asked for (`sim up --bmcs`): a BMC child costs a Python start and
    pyghmi's import, which most pools (every non-hardware-fencing test) never use.
    """
    if not available():
        raise BmcError("simulated BMCs need pyghmi (the test extra: pip install -e '.[test]')")

    hosts = [(entry["uuid"], bmc_address(block.prefix, index))
             for index, entry in enumerate(pool.describe()["hosts"][:MAX_BMCS])]
    return start_bmcs(control_url, hosts, secrets.token_hex(8))


def assemble(directory, hosts, vms, **options):
    """Build and start a whole simulated pool under `directory` (host roots in DIR/hosts/).

    `options`: the other fields of PoolOrder (start_latency, fuse, password, on_shutdown, report,
    shutdown_latency, bmcs, witness); an unknown one is a TypeError.

    `bmcs`: also a simulated IPMI BMC per host (pool.json "bmcs"; empty without); `witness`: also
    a witness service (pool.json "witness"; null without).
    Retries on a fresh address block when another pool grabbed ours meanwhile.
    """
    order = PoolOrder(hosts, vms, **options)
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    last = None
    for _ in range(BIND_ATTEMPTS):
        block = allocate_block(hosts)
        try:
            return _assemble_once(directory, block, order)
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                raise
            last = exc
    raise AddressError("could not bind a loopback block: %s" % last)


def write_pool_file(directory, document):
    """pool.json, atomically, readable by root only (it holds the password)."""
    roots.atomic_write(os.path.join(directory, POOL_FILE), json.dumps(document, indent=2) + "\n", mode=0o600)


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m halizard.sim.daemon",
                                     description="Run a simulated pool in the foreground (used by `ha-lizard sim up`).")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--hosts", type=int, required=True)
    parser.add_argument("--vms", type=int, required=True)
    parser.add_argument("--start-latency", type=float, default=0.5)
    parser.add_argument("--fuse", type=float, default=10.0)
    parser.add_argument("--shutdown-latency", type=float, default=0.1)
    parser.add_argument("--bmcs", action="store_true", help="a simulated IPMI BMC per host")
    parser.add_argument("--services", action="store_true", help="run each host's ha-lizard service (services.py)")
    parser.add_argument("--witness", action="store_true", help="a witness service (witness_node.py)")
    return parser.parse_args(argv)


def main(argv=None):
    """Run until SIGTERM/SIGINT, the control endpoint's shutdown, or pool.json's removal.

    pool.json exists exactly while the pool runs; deleting it (or the whole
    directory) stops an orphaned pool instead of leaving it bound forever.
    """
    args = _parse(sys.argv[1:] if argv is None else argv)
    directory = os.path.abspath(args.dir)
    stop = threading.Event()

    def on_signal(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        running = assemble(directory, args.hosts, args.vms, start_latency=args.start_latency,
                           fuse=args.fuse, on_shutdown=stop.set, report=log,
                           shutdown_latency=args.shutdown_latency, bmcs=args.bmcs, witness=args.witness)
    except Exception as exc:  # noqa: BLE001 - one line in sim.log, non-zero exit
        log("cannot start: %s: %s" % (type(exc).__name__, exc))
        return 1
    try:
        roots.atomic_write(os.path.join(directory, PID_FILE), "%d\n" % os.getpid())
        if args.services:
            for host in running.pool.describe()["hosts"]:
                running.pool.register_service(host["name_label"])
        write_pool_file(directory, running.document())
        log("pool up: %d hosts, %d VMs, %s, %s, %s, control %s, outer %s, pid %d"
            % (args.hosts, args.vms, "BMCs" if running.bmcs is not None else "no BMCs",
               "a witness" if running.witness is not None else "no witness",
               "a service per host" if args.services else "no services", running.control_url,
               running.outer_url, os.getpid()))
        pool_file = os.path.join(directory, POOL_FILE)
        while not stop.wait(0.5):
            if not os.path.exists(pool_file):
                log("%s was removed: the pool is orphaned" % pool_file)
                break
        log("shutting down")
    finally:
        _remove(os.path.join(directory, POOL_FILE))
        running.close()
        _remove(os.path.join(directory, PID_FILE))
        log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
