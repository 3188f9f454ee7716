"""The witness service: answers signed lease requests, one vote per pool.

Why: see halizard.core.witness (the rule) and halizard.witness.protocol (the
wire). This module only serves: it reads one line per connection within a
deadline, checks it, applies the rule under a lock, records a new holder in
the state file before it answers, and sends the signed answer. A `gate`
(client address -> bool) lets the simulator drop traffic it has cut off.
"""
import os
import socketserver
import threading
import time

from loguru import logger

from halizard.core import witness as rule
from halizard.probes.clock import Clocks
from halizard.statefiles import StateError, StateStore
from halizard.witness import protocol

log = logger.bind(function="witness")
READ_SECONDS = 2.0
DEFAULT_MARGIN = rule.MARGIN  # the pool's wait for a freed vote pays for this much (core.witness.vote_wait)


def state_store(path):
    """(StateStore, name) for a state file path ending in .json."""
    directory, base = os.path.split(os.path.abspath(path))
    if not base.endswith(".json") or len(base) <= 5:
        raise protocol.ProtocolError("state file %s: the name must end in .json" % path)
    return StateStore(directory=directory), base[:-5]


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        server = self.server
        if server.gate is not None and not server.gate(self.client_address[0]):
            return  # the simulator cut this client off: the connection just closes
        try:
            line = protocol.read_line(self.request, time.monotonic() + READ_SECONDS)
        except (OSError, protocol.ProtocolError) as exc:
            log.warning("witness: request from {} dropped: {}", self.client_address[0], exc)
            return
        answer = server.answer(line, self.client_address[0])
        try:
            self.request.sendall(protocol.encode(server.secret, answer))
        except OSError:
            pass


class WitnessServer(socketserver.ThreadingTCPServer):
    """One witness: `secret` bytes, grants kept per pool, recorded in the state file."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address, secret, state_path, margin=DEFAULT_MARGIN, max_lease=protocol.MAX_LEASE,
                 clocks=Clocks, gate=None):
        self.secret = secret
        self.margin = float(margin)
        self.max_lease = float(max_lease)
        self.clock, self.wall, self.gate = clocks.monotonic, clocks.wall, gate
        self.store, self.state_name = state_store(state_path)
        self._lock = threading.Lock()
        self.restart()
        socketserver.ThreadingTCPServer.__init__(self, address, _Handler)

    def restart(self):
        """Forget every live grant (as a fresh process would) and wait out the ones granted before."""
        with self._lock:
            # a grant is recorded before it is answered: no state file, no grant was ever made
            granted_before = os.path.exists(self.store.path(self.state_name))
            recorded = self.store.read(self.state_name, {})
            self.recorded = {p: str(g.get("holder") or "") for p, g in recorded.items() if isinstance(g, dict)}
            self.grants = {}
            self.guard = protocol.ReplayGuard()
            self.hold_until = self.clock() + self.max_lease + self.margin if granted_before else 0.0

    def answer(self, line, client):
        """The answer fields for one request line (an error answer when it is refused)."""
        try:
            fields = protocol.decode(self.secret, line)
            pool, host, lease = protocol.check_request(fields)
        except protocol.ProtocolError as exc:
            log.warning("witness: request from {} refused: {}", client, exc)
            return {"nonce": "", "granted": False, "error": str(exc)}
        lease = min(lease, self.max_lease)
        with self._lock:
            why = self.guard.admit(fields["nonce"], fields["ts"], self.wall())
            if why:
                log.warning("witness: request from {} ({}) refused: {}", client, host, why)
                return {"nonce": fields["nonce"], "granted": False, "error": why}
            now = self.clock()
            old = self.grants.get(pool, rule.Grant())
            new, result = rule.decide(old, host, lease, now, self.margin, self.hold_until,
                                      self.recorded.get(pool, ""))
            if result.granted and host != self.recorded.get(pool, ""):
                try:
                    self._record(pool, new.holder)
                except StateError as exc:
                    log.error("witness: grant to {} refused, it cannot be recorded: {}", host, exc)
                    return {"nonce": fields["nonce"], "granted": False, "error": "the witness cannot record"}
            self.grants[pool] = new
        if result.granted and old.holder != host:
            log.info("witness: pool {} vote leased to {} ({:g}s)", pool, host, lease)
        return {"nonce": fields["nonce"], "granted": result.granted, "holder": result.holder,
                "lease": result.lease, "wait": round(result.wait, 3), "why": result.why}

    def _record(self, pool, holder):
        """Store the new holder before answering (a restarted witness lets only it renew at once)."""
        recorded = dict(self.store.read(self.state_name, {}))
        recorded[pool] = {"holder": holder}
        self.store.write(self.state_name, recorded)
        self.recorded[pool] = holder

    def handle_error(self, request, client_address):
        log.warning("witness: error serving {}", client_address[0])

    def close(self):
        self.shutdown()
        self.server_close()
