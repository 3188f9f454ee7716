"""`ha-lizard witness`: run the witness service in the foreground (systemd Type=simple).

Exit status: 0 after SIGTERM/SIGINT; 1 when it cannot start (unreadable or
empty secret file, bad state file, address in use); 2 usage.
"""
import argparse
import signal
import sys

from loguru import logger

from halizard.witness import protocol, server

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(message)


def build_parser():
    parser = _Parser(prog="ha-lizard witness",
                     description="Give one quorum vote to at most one side of each pool, by a lease the "
                                 "holder renews (see docs/membership.md).")
    parser.add_argument("--listen", required=True, metavar="HOST:PORT", help="address to listen on")
    parser.add_argument("--secret-file", required=True, metavar="FILE",
                        help="file holding the pool's WITNESS_SECRET (keep it mode 0600)")
    parser.add_argument("--state-file", required=True, metavar="FILE.json",
                        help="where the current lease holders are recorded (survives restarts)")
    parser.add_argument("--margin", type=float, default=server.DEFAULT_MARGIN, metavar="SECONDS",
                        help="seconds after a lease expired before another host may get the vote "
                             "(default %(default)g; a pool waits for a freed vote with at most that margin, "
                             "so with a longer one the survivors may self-fence when the holder dies)")
    parser.add_argument("--max-lease", type=float, default=protocol.MAX_LEASE, metavar="SECONDS",
                        help="longest lease granted; a restarted witness waits this plus the margin "
                             "before it grants the vote to a new holder (default %(default)g)")
    return parser


def _stop(_signum, _frame):
    raise KeyboardInterrupt


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        address = protocol.split_address(args.listen, port_zero=True)
        if not 0 <= args.margin <= 3600 or not 0 < args.max_lease <= protocol.MAX_LEASE:
            raise _UsageError("--margin must be within 0..3600 and --max-lease within (0, %g]" % protocol.MAX_LEASE)
    except (_UsageError, ValueError) as exc:
        sys.stderr.write("ha-lizard witness: %s\n" % exc)
        return EXIT_USAGE
    logger.remove()
    logger.add(sys.stderr, format="{time:YYYY-MM-DD HH:mm:ss} {level} {message}", level="INFO")
    try:
        secret = protocol.read_secret(args.secret_file)
        witness = server.WitnessServer(address, secret, args.state_file, margin=args.margin,
                                       max_lease=args.max_lease)
    except protocol.ProtocolError as exc:
        sys.stderr.write("ha-lizard witness: %s\n" % exc)
        return EXIT_FAIL
    except OSError as exc:
        sys.stderr.write("ha-lizard witness: cannot listen on %s: %s\n" % (args.listen, exc.strerror or exc))
        return EXIT_FAIL
    signal.signal(signal.SIGTERM, _stop)
    logger.info("witness listening on {}:{}; new holders wait {:g}s after start", address[0], address[1],
                args.max_lease + args.margin)
    try:
        witness.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        witness.server_close()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
