"""`ha-lizard`: the service (run/start/stop/status/jobs) and the simulator (`sim`).

Owned by the supervisor work; the `sim` subcommand is delegated to
`halizard.sim.cli.main`.
"""
import sys


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sim":
        from halizard.sim.cli import main as sim_main
        return sim_main(argv[1:])
    sys.stderr.write("ha-lizard: usage: ha-lizard [--root DIR] {run,start,stop,restart,status,jobs,sim} ...\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
