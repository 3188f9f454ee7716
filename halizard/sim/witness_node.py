"""The simulated pool's witness (`sim up --witness`): the real witness service on its own address.

Why: a scenario must exercise the same server, protocol and state file an
admin runs on a third machine, yet partitions, cuts and power faults must
reach it. So the simulator runs `halizard.witness.server.WitnessServer` in
its own process with a gate: a request is served only when the world says
it reaches the witness and the answer gets back (SimPool.witness_gate); a
powered-off witness answers nothing, and a power-on restarts it from its
state file (it then waits out any lease it may have granted).
"""
import os
import secrets
import threading

from halizard.sim.addresses import WITNESS_PORT
from halizard.witness.server import WitnessServer

STATE_FILE = "witness-state.json"
MARGIN = 1.0
MAX_LEASE = 10.0


class SimWitness(object):
    """The witness node's service; `entry` is its pool.json "witness" object."""

    def __init__(self, pool, address, directory):
        self.secret = secrets.token_hex(16)
        state = os.path.join(directory, STATE_FILE)
        if os.path.exists(state):
            os.unlink(state)  # a fresh pool has a fresh witness
        pool.add_witness(address)
        self.server = WitnessServer((address, WITNESS_PORT), self.secret.encode("ascii"), state, margin=MARGIN,
                                    max_lease=MAX_LEASE, gate=pool.witness_gate)
        pool.witness_started = self.server.restart
        self.entry = {"address": address, "port": WITNESS_PORT, "secret": self.secret}
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, name="witness",
                         daemon=True).start()

    def close(self):
        self.server.close()
