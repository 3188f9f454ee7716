"""`recover_fenced_host`: lift this host's HA suspension, after a warning and a confirmation.

Why: a takeover slave that could not fence a dead master suspends its HA
(it reboots once and then never acts), so two masters can never arise from
a fence that did not happen. Only an administrator who has resolved the pool
failure may lift that, as the guide's `/etc/ha-lizard/scripts/recover_fenced_host`
does: a warning, then <enter> removes the suspension. `--yes` is for scripts
and other non-terminals; without a terminal and without `--yes` nothing changes.
The master lifts the suspension by itself once it marks this host `healthy`.
"""
import argparse
import sys

from halizard import suspension
from halizard.cli.common import EXIT_OK, EXIT_STATUS_HELP, CliError, UsageError, run_main

PROG = "recover_fenced_host"
WARNING = """WARNING: HA is suspended on this host because it could not fence a failed pool master.
Remove the suspension only once the pool is fully operational again: a master answers and the
failed master is powered off or repaired. Without the suspension this host may take over the
pool master again the next time the master does not answer."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG, description="Remove this host's HA suspension (after a failed fence of the master).",
        epilog=EXIT_STATUS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None, help="host root (default: HALIZARD_ROOT or /)")
    parser.add_argument("--yes", action="store_true", help="do not ask for <enter> (for non-terminals)")
    return parser


def recover(root, yes, stdin, stdout):
    """Lift the suspension; returns the exit status. Raises CliError/UsageError for the user."""
    from halizard.jobs import membership, takeover
    from halizard.statefiles import StateError, StateStore

    store = StateStore(root)
    if not suspension.takeover_suspended(store):
        stdout.write("HA is not suspended on this host; nothing to do.\n")
        return EXIT_OK
    stdout.write(WARNING + "\n")
    if not yes:
        if not (hasattr(stdin, "isatty") and stdin.isatty()):
            raise UsageError("not a terminal: confirm with --yes to remove the suspension")
        stdout.write("Press <enter> to remove the suspension, or Ctrl-C to cancel: ")
        stdout.flush()
        if not stdin.readline():
            raise CliError("no confirmation received; the suspension stays")
    try:
        takeover.clear_suspension(store)
        epoch = membership.vouch(store)
    except StateError as exc:
        raise CliError(str(exc)) from None
    if epoch is not None:
        stdout.write("This host's copy of the pool membership (epoch %d) counts again: you confirmed the "
                     "pool's state.\n" % epoch)
    stdout.write("HA suspension removed; this host takes part in HA again from its next cycle.\n")
    return EXIT_OK


def main(argv=None, stdin=None, stdout=None, stderr=None):
    """Entry point: returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout

    def body():
        args = build_parser().parse_args(argv)
        return recover(args.root, args.yes, stdin, stdout)

    try:
        return run_main(PROG, body, stderr)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2


if __name__ == "__main__":
    sys.exit(main())
