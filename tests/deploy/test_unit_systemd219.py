"""init/ha-lizard.service uses only directives that systemd 219 (XCP-ng 8 / XenServer 8 dom0) knows.

Why: systemd 219 ignores an unknown directive with a warning, so a newer
spelling (StartLimitIntervalSec= in [Unit], 230+) silently drops the setting
on the very hosts we ship to. systemd-analyze on this machine is newer and
cannot catch that.

Source of the list: systemd 219's unit-file parser table as shipped with
CentOS/RHEL 7 (repository lnykryn/systemd-rhel, configure.ac AC_INIT([systemd],
[219]), src/core/load-fragment-gperf.gperf.m4: Unit.*, Service.*,
EXEC_CONTEXT_CONFIG_ITEMS, KILL_CONTEXT_CONFIG_ITEMS, CGROUP_CONTEXT_CONFIG_ITEMS),
the same directives systemd.unit(5), systemd.service(5), systemd.exec(5),
systemd.kill(5) and systemd.resource-control(5) of v219 document, and the
[Install] keys of src/shared/install.c. Directives that RHEL 7 backported after
upstream 219 (TasksMax=, TasksAccounting=, AmbientCapabilities=,
PassEnvironment=) are left out: the list may only be smaller than 219's, never
larger, so a pass is always true.
"""
import configparser
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT = os.path.join(REPO, "init", "ha-lizard.service")

UNIT_219 = set("""
Description Documentation SourcePath Requires RequiresOverridable Requisite RequisiteOverridable
Wants BindsTo Conflicts Before After OnFailure PropagatesReloadTo ReloadPropagatedFrom PartOf
JoinsNamespaceOf RequiresMountsFor StopWhenUnneeded RefuseManualStart RefuseManualStop AllowIsolate
DefaultDependencies OnFailureJobMode IgnoreOnIsolate IgnoreOnSnapshot JobTimeoutSec JobTimeoutAction
JobTimeoutRebootArgument ConditionPathExists ConditionPathExistsGlob ConditionPathIsDirectory
ConditionPathIsSymbolicLink ConditionPathIsMountPoint ConditionPathIsReadWrite ConditionDirectoryNotEmpty
ConditionFileNotEmpty ConditionFileIsExecutable ConditionNeedsUpdate ConditionFirstBoot
ConditionKernelCommandLine ConditionArchitecture ConditionVirtualization ConditionSecurity
ConditionCapability ConditionHost ConditionACPower AssertPathExists AssertPathIsDirectory AssertFileNotEmpty
AssertFileIsExecutable AssertHost
""".split())

EXEC_219 = set("""
WorkingDirectory RootDirectory User Group SupplementaryGroups Nice OOMScoreAdjust IOSchedulingClass
IOSchedulingPriority CPUSchedulingPolicy CPUSchedulingPriority CPUSchedulingResetOnFork CPUAffinity UMask
Environment EnvironmentFile StandardInput StandardOutput StandardError TTYPath TTYReset TTYVHangup
TTYVTDisallocate SyslogIdentifier SyslogFacility SyslogLevel SyslogLevelPrefix Capabilities SecureBits
CapabilityBoundingSet TimerSlackNSec NoNewPrivileges SystemCallFilter SystemCallArchitectures
SystemCallErrorNumber RestrictAddressFamilies LimitCPU LimitFSIZE LimitDATA LimitSTACK LimitCORE LimitRSS
LimitNOFILE LimitAS LimitNPROC LimitMEMLOCK LimitLOCKS LimitSIGPENDING LimitMSGQUEUE LimitNICE LimitRTPRIO
LimitRTTIME ReadWriteDirectories ReadOnlyDirectories InaccessibleDirectories PrivateTmp PrivateNetwork
PrivateDevices ProtectSystem ProtectHome MountFlags Personality RuntimeDirectoryMode RuntimeDirectory
PAMName IgnoreSIGPIPE UtmpIdentifier SELinuxContext AppArmorProfile SmackProcessLabel
SendSIGKILL SendSIGHUP KillMode KillSignal
Slice CPUAccounting CPUShares StartupCPUShares CPUQuota MemoryAccounting MemoryLimit DeviceAllow
DevicePolicy BlockIOAccounting BlockIOWeight StartupBlockIOWeight BlockIODeviceWeight BlockIOReadBandwidth
BlockIOWriteBandwidth Delegate
""".split())

SERVICE_219 = EXEC_219 | set("""
PIDFile ExecStartPre ExecStart ExecStartPost ExecReload ExecStop ExecStopPost RestartSec TimeoutSec
TimeoutStartSec TimeoutStopSec WatchdogSec StartLimitInterval StartLimitBurst StartLimitAction RebootArgument
FailureAction Type Restart PermissionsStartOnly RootDirectoryStartOnly RemainAfterExit GuessMainPID
RestartPreventExitStatus RestartForceExitStatus SuccessExitStatus NonBlocking BusName
FileDescriptorStoreMax NotifyAccess Sockets
""".split())

INSTALL_219 = {"WantedBy", "RequiredBy", "Alias", "Also", "DefaultInstance"}

KNOWN = {"Unit": UNIT_219, "Service": SERVICE_219, "Install": INSTALL_219}


def unit_directives(path):
    """{section: [directive, ...]} as systemd reads the file (repeated keys allowed)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    with open(path) as handle:
        parser.read_file(handle)
    return {section: list(parser[section]) for section in parser.sections()}


def unknown_to_219(path):
    found = unit_directives(path)
    problems = ["[%s] section unknown to a service unit" % s for s in found if s not in KNOWN]
    for section, names in found.items():
        problems += ["[%s] %s=" % (section, name) for name in names
                     if section in KNOWN and name not in KNOWN[section]]
    return problems


def test_the_unit_uses_only_directives_systemd_219_knows():
    assert unknown_to_219(UNIT) == []


def test_a_directive_newer_than_219_is_caught(tmp_path):
    newer = tmp_path / "newer.service"
    newer.write_text("[Unit]\nDescription=x\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/true\n"
                     "TasksMax=10\n[Install]\nWantedBy=multi-user.target\n")
    assert unknown_to_219(str(newer)) == ["[Unit] StartLimitIntervalSec=", "[Service] TasksMax="]


def test_the_restart_limit_is_switched_off_in_the_219_spelling():
    found = unit_directives(UNIT)
    assert "StartLimitInterval" in found["Service"]
    assert "StartLimitIntervalSec" not in found["Unit"]
