"""Operator stop or crash? Read from the VM events XAPI reports.

A VM stopped through XAPI (someone ran a shutdown operation on it) shows the
operation in `current_operations` on the way to Halted; a crash or a
shutdown from inside the guest reaches Halted with no such operation. The
first stays halted until it is started again (VM_RESPECT_OPERATOR_STOP=1);
the second is restarted. A VM seen Running again forgets the operator stop.
A VM already halted before we watched has no recorded intent: it is treated
as not stopped by an operator (the old product's "start VMs on boot").

The state is a small frozen value the caller keeps (and may persist); the
fold over events is pure. Stops done by HA-Lizard itself (self-fencing,
fencing) are passed in `own_stops` and never count as operator intent.
"""


from dataclasses import dataclass
from typing import AbstractSet, FrozenSet, Iterable, Tuple

from halizard.core.model import HALTED, RUNNING

STATE_NAME = "vm-intent"   # the state file the VM jobs keep the intent in
STOP_OPERATIONS = frozenset({"clean_shutdown", "hard_shutdown", "shutdown"})


@dataclass(frozen=True)
class VmEvent:
    """One VM record change as event.from delivered it."""

    vm_uuid: str
    power_state: str
    current_operations: Tuple[str, ...] = ()


@dataclass(frozen=True)
class IntentState:
    """VMs an operator stopped, and VMs with a stop operation in flight."""

    operator_stopped: FrozenSet[str] = frozenset()
    stop_pending: FrozenSet[str] = frozenset()


def fold(state: IntentState, events: Iterable[VmEvent],
         own_stops: AbstractSet[str] = frozenset()) -> IntentState:
    """The intent state after these events, in order."""
    stopped = set(state.operator_stopped)
    pending = set(state.stop_pending)
    for ev in events:
        stop_op = bool(STOP_OPERATIONS.intersection(ev.current_operations))
        if ev.power_state == RUNNING:
            stopped.discard(ev.vm_uuid)
            if stop_op and ev.vm_uuid not in own_stops:
                pending.add(ev.vm_uuid)
            elif not ev.current_operations:
                pending.discard(ev.vm_uuid)
        elif ev.power_state == HALTED:
            if (stop_op or ev.vm_uuid in pending) and ev.vm_uuid not in own_stops:
                stopped.add(ev.vm_uuid)
            pending.discard(ev.vm_uuid)
        else:  # Suspended / Paused: not a stop
            pending.discard(ev.vm_uuid)
    return IntentState(frozenset(stopped), frozenset(pending))


def started_by_operator(state: IntentState, vm_uuid: str) -> IntentState:
    """Forget an operator stop (the VM was started again through XAPI)."""
    return IntentState(state.operator_stopped - {vm_uuid}, state.stop_pending - {vm_uuid})


def to_plain(state: IntentState) -> dict:
    """JSON-able form, for the state file."""
    return {"operator_stopped": sorted(state.operator_stopped), "stop_pending": sorted(state.stop_pending)}


def from_plain(data: object) -> IntentState:
    """Inverse of to_plain; anything malformed gives an empty state (never trusted blindly)."""
    if not isinstance(data, dict):
        return IntentState()
    stopped = data.get("operator_stopped", [])
    pending = data.get("stop_pending", [])
    if not (isinstance(stopped, list) and isinstance(pending, list)
            and all(isinstance(x, str) for x in stopped + pending)):
        return IntentState()
    return IntentState(frozenset(stopped), frozenset(pending))


def load(state) -> IntentState:
    """The intent kept in `state` (a store with read(name, default), e.g. statefiles.StateStore)."""
    return from_plain(state.read(STATE_NAME, {}))
