"""Every configuration parameter, once: the only place a parameter is defined.

Why: the CLI, the override file, restore, the service and the generated
reference (docs/configuration.md, etc/ha-lizard/ha-lizard.conf) all read this
table, so they can never disagree. Pool parameters live in the pool's
other_config as `HA_<NAME>`; host-local ones only in the override file.
"""
from collections import OrderedDict
from dataclasses import dataclass

from halizard.config import types as t

POOL_KEY_PREFIX = "HA_"
XC_FIELD_PREFIX = "XenCenter.CustomFields."

# Functions of the old product with per-function LOG_/MAIL_/PRIORITY_ switches (guide,
# "Logging and Email Alert Settings"); new jobs may add theirs here.
FUNCTIONS = (
    "check_ha_enabled", "get_pool_host_list", "get_pool_ip_list", "master_ip", "check_xapi",
    "get_app_vms", "vm_state", "vm_state_check", "vm_mon", "promote_slave", "get_vms_on_host",
    "get_vms_on_host_local", "check_vm_managed", "write_pool_state", "check_slave_status",
    "fence_host", "email", "autoselect_slave", "check_quorum", "xe_wrapper",
    "check_logger_processes", "check_xs_ha", "disable_ha_lizard", "update_global_conf_params",
    "service_execute", "stop_vms_on_host", "check_master_mgt_link_state", "write_status_report",
    "validate_vm_ha_state", "reset_vm_vdi", "validate_this_host_vm_states",
    # added by this implementation: alert/log functions and job names (logger.bind(function=...))
    "check_vm_field", "disk_monitor", "suspended_ha", "monitor", "alerts", "control", "statefiles",
    "supervisor", "pool_state", "alert_spool", "vm_monitor", "vm_events", "zombies", "master_watch",
    "master_cycle", "autoselect", "self_fence", "witness", "failure_tolerance", "metrics", "ops_report",
    "journal",
)
LOG_DEFAULT_OFF = ("write_pool_state",)
DEFAULT_PRIORITY = 3
# Pool keys of the old product that we no longer use (restore skips them with a warning).
LEGACY_POOL_NAMES = ("FENCE_LOG",)
# The guide misspells one switch; accept it in override files.
ALIASES = {"LOC_write_status_report": "LOG_write_status_report"}


@dataclass(frozen=True)
class Param:
    """One parameter: what it holds, its default, how it is written, who may set it."""

    name: str
    type: t.Kind
    default: object
    doc: str
    secret: bool = False
    needs_restart: bool = False
    host_local_only: bool = False
    style: str = "bare"        # quoting used when a new pool key is written (values.STYLES)
    group: str = "General"
    deprecated: bool = False

    @property
    def validator(self):
        """text -> typed value, raising ValueError with an admin-readable reason."""
        return self.type.parse

    @property
    def pool_key(self):
        return POOL_KEY_PREFIX + self.name

    def default_text(self):
        return self.type.text(self.default)


def _p(name, kind, default, doc, **kw):
    return Param(name, kind, default, doc, **kw)


_FLAG = t.Flag()
_SECONDS = t.Int(1, 86400, unit="seconds")

_GLOBALS = [
    _p("MONITOR_MAX_STARTS", t.Int(1, 10000), 20,
       "How many re-checks of a still-running cycle before it counts as hung (alert, and kill it when MONITOR_KILLALL=1).",
       needs_restart=True, group="Monitor"),
    _p("MONITOR_DELAY", _SECONDS, 15,
       "Seconds between the starts of two HA cycles; a cycle never overlaps the previous one.",
       needs_restart=True, group="Monitor"),
    _p("MONITOR_KILLALL", _FLAG, 1,
       "1: kill a hung cycle once MONITOR_MAX_STARTS is reached; 0: only alert.",
       needs_restart=True, group="Monitor"),
    _p("MONITOR_SCANRATE", _SECONDS, 10,
       "Seconds between re-checks while a cycle is still running.",
       needs_restart=True, group="Monitor"),
    _p("XC_FIELD_NAME", t.Text(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", what="field name"), "ha-lizard-enabled",
       "Name of the XenCenter custom field (pool, VM and host other_config `XenCenter.CustomFields.<name>`).",
       style="single", group="Pool"),
    _p("XE_TIMEOUT", _SECONDS, 10,
       "Deadline in seconds of every call to XAPI (a silent master never blocks longer).", group="Pool"),
    _p("OP_MODE", t.Choice([1, 2], ints=True), 2,
       "1: manage appliances (vApps); 2: manage individual VMs.", group="Pool"),
    _p("GLOBAL_VM_HA", _FLAG, 1,
       "OP_MODE 2 only. 1: every VM is protected; 0: only VMs whose custom field is `true`.", group="Pool"),
    _p("ENABLE_LOGGING", _FLAG, 1, "1: log to syslog (tag `ha-lizard`); 0: no logging.", group="Pool"),
    _p("DISABLED_VAPPS", t.ColonList(t.is_uuid, "appliance UUIDs", "appliance UUID"), (),
       "OP_MODE 1 only: appliances never started by HA, `:`-separated UUIDs, stored as `(uuid1:uuid2)`.",
       style="paren", group="Pool"),
    _p("XAPI_COUNT", t.Int(1, 100), 2,
       "Retries before a silent host (or master) counts as failed.", group="Pool"),
    _p("XAPI_DELAY", _SECONDS, 10, "Seconds between those retries.", group="Pool"),
    _p("PEER_PORT", t.Int(1, 65535), 694,
       "UDP port every host answers the peer query on: before a slave takes over a silent master it "
       "asks the peers it reaches whether they still read the master, and holds the takeover while one "
       "does or does not answer (docs/master-failure.md). 694 is the port of XenServer HA's network "
       "heartbeat, which HA-Lizard requires disabled; the stock dom0 firewall opens it (docs/install.md). "
       "The same value on every host.", group="Pool"),
    _p("SLAVE_HA", _FLAG, 1,
       "1: the promoted slave restarts the VMs of a failed master (needs PROMOTE_SLAVE=1).", group="Pool"),
    _p("PROMOTE_SLAVE", _FLAG, 1,
       "1: the autopromote winner takes over when the master fails.", group="Pool"),
    _p("SLAVE_VM_STAT", _FLAG, 0,
       "1: slaves also start halted protected VMs (normally only the master does).", group="Pool"),
    _p("MGT_LINK_LOSS_TOLERANCE", t.Int(0, 3600, unit="seconds"), 5,
       "Seconds the master may lose its management link before it force-stops its own VMs.", group="Pool"),
    _p("HOST_SELECT_METHOD", t.Choice([0, 1], ints=True), 0,
       "0: place VMs on healthy hosts with free memory (health-aware); 1: let XAPI place them.", group="Pool"),
    _p("ENABLE_ALERTS", _FLAG, 1, "1: every alert also becomes a XAPI message `HA-Lizard - <function>`.",
       group="Alerts"),
    _p("DISK_MONITOR", _FLAG, 1, "1: hourly SMART check of local disks, alert on failure.", group="Alerts"),
    _p("MAIL_ON", _FLAG, 1, "1: send alert mails; 0: never.", group="Mail"),
    _p("MAIL_SUBJECT", t.Text(what="subject"), "SYSTEM_ALERT-FROM_HOST:$HOSTNAME",
       "Subject of alert mails; `$HOSTNAME` expands on each host. No spaces in the pool value "
       "(use the override file for a subject with spaces).", style="double", group="Mail"),
    _p("MAIL_FROM", t.Emails(), "root@localhost", "Sender address of alert mails.", style="double",
       group="Mail"),
    _p("MAIL_TO", t.Emails(), "root@localhost",
       "Recipient address(es) of alert mails, several separated by `,` or `:`.", style="double", group="Mail"),
    _p("SMTP_SERVER", t.Address(), "127.0.0.1", "SMTP server for alert mails.", style="double", group="Mail"),
    _p("SMTP_PORT", t.Int(1, 65535, unit="port"), 25,
       "SMTP port; 465 means implicit TLS, otherwise STARTTLS when offered.", style="double", group="Mail"),
    _p("SMTP_USER", t.Text(allow_empty=True, what="user name"), "",
       "SMTP login user; empty: no login.", style="double", group="Mail"),
    _p("SMTP_PASS", t.Text(allow_empty=True, what="password"), "", "SMTP login password.", secret=True,
       style="double", group="Mail"),
    _p("FENCE_ENABLED", _FLAG, 1, "1: fencing enabled; 0: disabled (the guide's table is inverted).",
       group="Fencing"),
    _p("FENCE_FILE_LOC", t.Path(), "/etc/ha-lizard/fence", "Directory of fencing agents and their settings.",
       group="Fencing"),
    _p("FENCE_HA_ONFAIL", _FLAG, 0,
       "1: restart a failed host's VMs even when fencing it failed (risk of a VM running twice).",
       group="Fencing"),
    _p("FENCE_METHOD", t.Choice(["POOL", "ILO", "IRMC", "XVM"], names_ok=True), "POOL",
       "POOL, ILO, IRMC, XVM or the name of a custom agent in FENCE_FILE_LOC.", group="Fencing"),
    _p("FENCE_USER", t.Text(allow_empty=True, what="user name"), "",
       "User name for the fence device (IPMI/iLO/iRMC login).", group="Fencing"),
    _p("FENCE_PASSWD", t.Text(allow_empty=True, what="password"), "", "Password for the fence device.",
       secret=True, group="Fencing"),
    _p("FENCE_ACTION", t.Choice(["start", "stop", "reset"]), "stop", "Action sent to the fence device.",
       group="Fencing"),
    _p("FENCE_REBOOT_LONE_HOST", _FLAG, 0,
       "1: a master that sees no other host (and has no quorum) reboots once.", group="Fencing"),
    _p("FENCE_IPADDRESS", t.Address(allow_empty=True), "",
       "Address of a static fence device (XVM: the outer dom0).", group="Fencing"),
    _p("FENCE_HOST_FORGET", _FLAG, 0, "Deprecated. 1: forget a fenced host (remove it from the pool).",
       group="Fencing", deprecated=True),
    _p("FENCE_MIN_HOSTS", t.Int(1, 1000), 2, "No fencing when fewer hosts than this would remain.",
       group="Fencing"),
    _p("FENCE_QUORUM_REQUIRED", _FLAG, 1, "1: fence only with quorum (votes > total/2).", group="Fencing"),
    _p("FENCE_USE_IP_HEURISTICS", _FLAG, 1,
       "1: one extra quorum vote when every FENCE_HEURISTICS_IPS address answers.", group="Fencing"),
    _p("FENCE_HEURISTICS_IPS", t.ColonList(t.is_address, "addresses", "address"), (),
       "`:`-separated addresses for the heuristic vote. Empty by default (the old default pinged a "
       "public resolver): a 2-host pool then cannot reach quorum, so set a switch or storage address.",
       group="Fencing"),
    _p("VM_RESPECT_OPERATOR_STOP", _FLAG, 1,
       "1: a VM an operator shut down on purpose is not restarted; 0: every halted protected VM is.",
       group="VMs"),
    _p("VM_START_CONCURRENCY", t.Int(1, 256), 16, "Most VM starts in flight at once during recovery.",
       group="VMs"),
    _p("VM_START_RETRY_BASE", _SECONDS, 5,
       "Seconds before the first retry of a VM whose start failed; each further failure doubles the wait.",
       group="VMs"),
    _p("VM_START_RETRY_CAP", _SECONDS, 300,
       "Longest wait in seconds between two start attempts of the same VM (at least VM_START_RETRY_BASE).",
       group="VMs"),
    _p("VM_START_RETRY_ALERT_AFTER", t.Int(1, 1000), 3,
       "Failed starts of the same VM in a row before an alert is raised.", group="VMs"),
    _p("FAILURES_TO_TOLERATE", t.Int(0, 64), 1,
       "Host failures the pool must survive with every protected VM placed (`ha-cfg plan`); "
       "an alert while the pool tolerates fewer.", group="Operations"),
    _p("METRICS_FILE", t.Path(allow_empty=True), "",
       "Prometheus text file the service rewrites each cycle (node_exporter textfile collector, "
       "name ending in `.prom`); empty: off.", group="Operations"),
    _p("SELF_FENCE_STOP_TIMEOUT", _SECONDS, 30,
       "Seconds an isolated host gives its own VMs to stop before it reboots itself.", group="Self-fencing"),
    _p("SELF_FENCE_CHECK_INTERVAL", t.Int(1, 3600, unit="seconds"), 1,
       "Seconds between two checks of the management link (link loss is noticed this much late at most).",
       group="Self-fencing"),
    _p("SELF_FENCE_WAIT", t.Int(0, 86400, unit="seconds"), 0,
       "Seconds after the first failed probe before the pool restarts an isolated host's VMs without a "
       "verified fence. 0: automatic (the self-fence deadline plus a margin, see docs/timing.md); a value "
       "set here must be longer than that deadline or the configuration is refused.",
       group="Self-fencing"),
    _p("SELF_FENCE_WATCHDOG", t.Int(0, 600, unit="seconds"), 0,
       "0: off. N (at least 5): the service arms the host's watchdog device (/dev/watchdog: softdog or "
       "Xen's) with an N second timeout and feeds it only while it is healthy, so a frozen or dead service "
       "reboots the host within N seconds; the self-fence wait then counts N instead of the service "
       "restart time (docs/timing.md). A missing or busy device is alerted at start.",
       group="Self-fencing"),
    _p("WITNESS_ADDRESS", t.Text(allow_empty=True, pattern=r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$",
                                 what="host:port"), "",
       "host:port of the witness (`ha-lizard witness` on a machine outside the pool): one more quorum "
       "vote, leased to one side at a time, so a 2-host pool recovers without a hardware fence. Empty: "
       "no witness.", group="Witness"),
    _p("WITNESS_SECRET", t.Text(allow_empty=True, what="secret"), "",
       "Shared secret of the witness (the same text as its --secret-file); requests and answers are "
       "signed with it.", secret=True, group="Witness"),
    _p("WITNESS_LEASE", t.Int(2, 60, unit="seconds"), 4,
       "Seconds the witness vote is leased for; the holder renews it every third of that. The pool's "
       "self-fence wait must exceed the self-fence deadline plus the wait for the witness's vote (the "
       "lease, the witness's margin, two requests and one check; see docs/membership.md).",
       group="Witness"),
]

_LOCALS = [
    _p("MAIL_SCREEN_TIME", t.Int(0, 100000, unit="minutes"), 60,
       "Minutes a repeated identical alert stays suppressed.", host_local_only=True, group="Host-local"),
]
for _fn in FUNCTIONS:
    _LOCALS.append(_p("LOG_" + _fn, _FLAG, 0 if _fn in LOG_DEFAULT_OFF else 1,
                      "Log messages of `%s` (1 = enabled)." % _fn, host_local_only=True, group="Log switches"))
for _fn in FUNCTIONS:
    _LOCALS.append(_p("MAIL_" + _fn, _FLAG, 1, "Mail alerts of `%s` (1 = enabled)." % _fn,
                      host_local_only=True, group="Mail switches"))
for _fn in FUNCTIONS:
    _LOCALS.append(_p("PRIORITY_" + _fn, t.Int(1, 5), DEFAULT_PRIORITY,
                      "Priority of `%s` alerts (XAPI message priority, 1 = highest)." % _fn,
                      host_local_only=True, group="Alert priorities"))

PARAMETERS = OrderedDict((p.name, p) for p in _GLOBALS + _LOCALS)
POOL_PARAMETERS = [p for p in PARAMETERS.values() if not p.host_local_only]


class UnknownParameter(KeyError):
    """No parameter of that name."""

    def __str__(self):
        return "unknown parameter %s" % self.args[0]


def canonical_name(name):
    """Accept `enable_logging`, `HA_ENABLE_LOGGING`, `LOG_check_xapi`; return the schema spelling."""
    if name in ALIASES:
        return ALIASES[name]
    if name in PARAMETERS:
        return name
    upper = name.upper()
    if upper.startswith(POOL_KEY_PREFIX) and upper[len(POOL_KEY_PREFIX):] in PARAMETERS:
        upper = upper[len(POOL_KEY_PREFIX):]
    if upper in PARAMETERS:
        return upper
    for family in ("LOG_", "MAIL_", "PRIORITY_"):
        if upper.startswith(family):
            candidate = family + name[len(family):].lower()
            if candidate in PARAMETERS:
                return candidate
    raise UnknownParameter(name)


def get_param(name):
    """The Param for `name` (case-insensitive, `HA_` prefix allowed); UnknownParameter otherwise."""
    return PARAMETERS[canonical_name(name)]


def xc_field_key(field_name):
    return XC_FIELD_PREFIX + field_name
