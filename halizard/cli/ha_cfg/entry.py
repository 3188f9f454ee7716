"""The ha-cfg entry point: parse, build the Context, run one subcommand, map errors to one line."""
import sys

from halizard.cli.common import EXIT_OK, EXIT_USAGE, run_main
from halizard.cli.ha_cfg.context import PROG, Context
from halizard.cli.ha_cfg.spec import build_parser


def main(argv=None, stdin=None, stdout=None, stderr=None):
    """Entry point: returns the exit status (console script: sys.exit(main()))."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out = stdout or sys.stdout
    ctx_holder = []

    def body():
        parser, funcs = build_parser()
        args = parser.parse_args(argv)
        if args.command in (None, "help"):
            out.write(parser.format_help())
            return EXIT_OK if args.command == "help" else EXIT_USAGE
        ctx = Context(args.root, yes=args.yes or getattr(args, "sub_yes", False),
                      stdin=stdin, stdout=stdout, stderr=stderr)
        ctx_holder.append(ctx)
        return funcs[args.command](ctx, args)

    try:
        return run_main(PROG, body, stderr)
    finally:
        for ctx in ctx_holder:
            ctx.close()
