"""Typed action records: what the core asks the outer layers to do.

Every record carries `why`, one sentence a human can read in the log, so
each decision explains itself (the Patroni habit). Records are frozen and
hold plain values only (uuids, numbers, strings), so the xapi/platform layers
can execute them without knowing how they were decided. Construct them with
keyword arguments.
"""


from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class Action:
    """Base of every action: `why` says in one sentence why it is needed."""

    why: str

    @property
    def kind(self) -> str:
        return type(self).__name__


# --- VMs -------------------------------------------------------------------


@dataclass(frozen=True)
class StartVm(Action):
    """Start a halted VM; host_uuid None lets XAPI place it."""

    vm_uuid: str
    host_uuid: Optional[str]


@dataclass(frozen=True)
class StartAppliance(Action):
    """Start a VM appliance; XAPI honours the members' order and delays."""

    appliance_uuid: str


@dataclass(frozen=True)
class SetVmHaField(Action):
    """Write the per-VM XenCenter HA field (used to turn missing and invalid values to `false`), only
    while it still holds `seen`, the value the decision read (None: missing): an admin's change made
    since then wins."""

    vm_uuid: str
    value: str
    seen: Optional[str] = None


@dataclass(frozen=True)
class MarkOperatorStop(Action):
    """Write (stopped) or remove the VM's other_config operator-stop key (model.OPERATOR_STOP_KEY)."""

    vm_uuid: str
    stopped: bool


@dataclass(frozen=True)
class StampHomePool(Action):
    """Write other_config['home-pool'] on a running VM."""

    vm_uuid: str
    pool_uuid: str


@dataclass(frozen=True)
class DestroyDomain(Action):
    """Destroy a local domain through the platform layer (a zombie)."""

    vm_uuid: str


@dataclass(frozen=True)
class ResetVmPowerState(Action):
    """VM.power_state_reset for a VM of a host proven dead."""

    vm_uuid: str


@dataclass(frozen=True)
class StopLocalVms(Action):
    """Self-fence: force-stop these local domains before `deadline` (clock seconds)."""

    vm_uuids: Tuple[str, ...]
    deadline: float


# --- hosts and pool --------------------------------------------------------


@dataclass(frozen=True)
class SetHostHealth(Action):
    """Write the host's XenCenter health field: master, healthy or failed."""

    host_uuid: str
    value: str


@dataclass(frozen=True)
class SetAutopromote(Action):
    """Write pool other_config['autopromote_uuid'] (a host uuid or none_available)."""

    value: str


@dataclass(frozen=True)
class EnableHost(Action):
    """host.enable: the master left maintenance mode disabled."""

    host_uuid: str


@dataclass(frozen=True)
class FenceHost(Action):
    """Ask the fence agent to act on a host; the result must be verified."""

    host_uuid: str
    fence_action: str


@dataclass(frozen=True)
class ClearVdiMarker(Action):
    """Remove the sm_config attach marker `host_<ref>` a dead host left on a VDI."""

    vdi_uuid: str
    key: str


@dataclass(frozen=True)
class ForgetHost(Action):
    """Remove a fenced host from the pool (FENCE_HOST_FORGET, deprecated)."""

    host_uuid: str


@dataclass(frozen=True)
class EmergencyTransition(Action):
    """pool.emergency_transition_to_master on this host."""


@dataclass(frozen=True)
class WaitUntilMaster(Action):
    """Wait until this host's xapi answers as master, at most until `deadline`."""

    deadline: float


@dataclass(frozen=True)
class RecoverSlaves(Action):
    """pool.recover_slaves on the new master (attempt number `attempt`)."""

    attempt: int


@dataclass(frozen=True)
class RestartVmsOf(Action):
    """Run the VM plan for the VMs a proven-dead host held (SLAVE_HA / recovery)."""

    host_uuid: str


@dataclass(frozen=True)
class SuspendSelf(Action):
    """Set this host's HA suspension flag (it acts again only when marked healthy)."""


@dataclass(frozen=True)
class ClearSuspension(Action):
    """Remove this host's HA suspension flag."""


@dataclass(frozen=True)
class RebootSelf(Action):
    """Reboot this host (once)."""


@dataclass(frozen=True)
class RestartToolstack(Action):
    """Restart this host's toolstack (after the management link came back)."""


@dataclass(frozen=True)
class Wait(Action):
    """Do nothing until clock time `until`, then decide again."""

    until: float


@dataclass(frozen=True)
class Alert(Action):
    """Raise an alert (mail + XAPI message) for `function` with this text.

    reset_of: the uuid of a VM whose SetVmHaField this alert reports; it goes out only when that
    reset was written (two rounds that both read the bad value alert once)."""

    function: str
    text: str
    reset_of: Optional[str] = None
