"""`ha-cfg`: the pool configuration and HA on/off tool, one function per subcommand.

Why: admins run it daily on any host of the pool, and existing HA-Lizard
pools must switch to us in place, so it speaks the old tool's subcommands on
the same XAPI keys. Unlike the old tool, every value is validated before
anything is written, errors are one line with a documented exit status, and
no call can hang longer than XE_TIMEOUT.

The command line is data (spec.COMMANDS); each concern has its module:
params (insert/remove/get/set), vms (VM and pool HA fields), status, backup,
fence_test, plan (plan/timeline), service (log, version, alerts).
"""
from halizard.cli.ha_cfg.context import PROG, Context
from halizard.cli.ha_cfg.entry import main
from halizard.cli.ha_cfg.spec import COMMANDS, build_parser

__all__ = ["COMMANDS", "PROG", "Context", "build_parser", "main"]
