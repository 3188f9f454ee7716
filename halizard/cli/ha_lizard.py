"""`ha-lizard`: the service (run/start/stop/restart/status/jobs) and the simulator (`sim`).

Exit status: 0 success; 1 failure (already running, not running for `jobs`,
unknown job, stop timed out); 2 usage; 3 `status` when the service is not
running (LSB). `--root DIR` (or HALIZARD_ROOT) places every path under DIR.
The `sim` subcommand is delegated to `halizard.sim.cli.main`, `witness` to
`halizard.witness.cli.main` (the service an admin runs on a third machine).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

from halizard import paths

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NOT_RUNNING = 0, 1, 2, 3
START_WAIT = 20.0
STOP_WAIT = 30.0


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _override(text):
    key, sep, value = text.partition("=")
    if not sep or not key or not key.replace("_", "").isalnum():
        raise argparse.ArgumentTypeError("expected KEY=VALUE, got %r" % text)
    return key, value


def build_parser():
    parser = _Parser(prog="ha-lizard", description="HA-Lizard service and pool simulator")
    parser.add_argument("--root", help="host root directory (default: $HALIZARD_ROOT or /)")
    sub = parser.add_subparsers(dest="command", metavar="{run,start,stop,restart,status,jobs,metrics,sim,witness}")

    def service_options(p):
        p.add_argument("--log-stderr", action="store_true", help="also log to stderr")
        p.add_argument("--log-file", help="also log to this file")
        p.add_argument("--set", dest="overrides", action="append", type=_override, default=[],
                       metavar="KEY=VALUE", help="explicit parameter value (beats the configuration)")

    run = sub.add_parser("run", help="run the service in the foreground (systemd Type=notify)")
    run.add_argument("--daemon", action="store_true", help="detach (SysV systems)")
    service_options(run)
    start = sub.add_parser("start", help="start the service in the background")
    service_options(start)
    stop = sub.add_parser("stop", help="stop the service")
    stop.add_argument("--timeout", type=float, default=STOP_WAIT)
    restart = sub.add_parser("restart", help="stop, then start")
    service_options(restart)
    restart.add_argument("--timeout", type=float, default=STOP_WAIT)
    status = sub.add_parser("status", help="is the service running (exit 3 when not)")
    status.add_argument("--json", action="store_true")
    jobs = sub.add_parser("jobs", help="list or kill jobs of the running service")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", metavar="{list,kill}")
    listing = jobs_sub.add_parser("list")
    listing.add_argument("--json", action="store_true")
    kill = jobs_sub.add_parser("kill")
    kill.add_argument("name")
    sub.add_parser("metrics", help="print this host's metrics (Prometheus text exposition format)")
    sub.add_parser("sim", help="pool simulator (see `ha-lizard sim --help`)", add_help=False)
    sub.add_parser("witness", help="the witness service for a third machine (see `ha-lizard witness --help`)",
                   add_help=False)
    return parser


def _split_sim(argv, command="sim"):
    """Find a `sim` (or `command`) subcommand after the global options; returns (root, its args) or None."""
    root = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--root" and i + 1 < len(argv):
            root = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--root="):
            root = arg.split("=", 1)[1]
            i += 1
            continue
        if arg == command:
            return root, argv[i + 1:]
        return None
    return None


def _fmt_time(epoch):
    if not epoch:
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def _print_jobs(jobs, warnings):
    header = ("NAME", "STATE", "PID", "STARTED", "DEADLINE", "LAST", "NEXT")
    rows = []
    for job in jobs:
        last = job.get("last") or {}
        outcome = last.get("outcome") or "-"
        if last.get("duration") is not None:
            outcome += " (%.1fs)" % last["duration"]
        rows.append((job["name"], job["state"], str(job["pid"] or "-"), _fmt_time(job["started"]),
                     _fmt_time(job["deadline"]), outcome, _fmt_time(job["next_run"])))
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    for warning in warnings:
        print("warning: %s" % warning)


def _keep_std_streams_across_exec():
    """Make fds 0-2 inheritable again after python-daemon pointed them at /dev/null.

    Why: python-daemon closes every fd, then os.open()s /dev/null (close-on-exec, PEP 446),
    which lands on the freed 0/1/2, and dup2() onto the same number keeps that flag. The job
    forkserver is exec'd, so it started without stdin/stdout/stderr and every job run failed
    (exit status 1) flushing a missing sys.stdout after its work (issue 19 item 4).
    """
    for fd in (0, 1, 2):
        os.set_inheritable(fd, True)


def cmd_run(args, root):
    from halizard.supervisor.daemon import Service
    from halizard.supervisor.locks import InstanceLock

    if args.daemon:
        lock = InstanceLock(root)
        if lock.is_held_elsewhere():
            from halizard.supervisor.locks import read_pid
            pid = read_pid(root)
            sys.stderr.write("ha-lizard: already running%s; not starting a second instance\n"
                             % (" (pid %d)" % pid if pid else ""))
            return EXIT_FAIL
        import daemon

        context = daemon.DaemonContext(working_directory="/", umask=0o022, signal_map={}, detach_process=True)
        with context:
            _keep_std_streams_across_exec()
            return Service(root, overrides=dict(args.overrides), log_stderr=False, log_file=args.log_file).run()
    return Service(root, overrides=dict(args.overrides), log_stderr=args.log_stderr,
                   log_file=args.log_file).run()


def _query(root, command, **kw):
    from halizard.supervisor.control import query
    return query(root, command, **kw)


def cmd_start(args, root):
    from halizard.supervisor.control import ServiceNotRunning

    try:
        status = _query(root, "status")
        print("ha-lizard is already running (pid %s)" % status.get("pid"))
        return EXIT_FAIL
    except ServiceNotRunning:
        pass
    command = [sys.executable, "-m", "halizard.cli.ha_lizard", "--root", root, "run", "--daemon"]
    if args.log_file:
        command += ["--log-file", args.log_file]
    for key, value in args.overrides:
        command += ["--set", "%s=%s" % (key, value)]
    try:
        launcher = subprocess.run(command, stdin=subprocess.DEVNULL, timeout=START_WAIT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except subprocess.TimeoutExpired:
        sys.stderr.write("ha-lizard: the daemon did not detach within %g s\n" % START_WAIT)
        return EXIT_FAIL
    if launcher.returncode != 0:
        sys.stderr.write(launcher.stderr.decode("utf-8", "replace"))
        return EXIT_FAIL
    limit = time.monotonic() + START_WAIT
    while time.monotonic() < limit:
        try:
            status = _query(root, "status")
        except ServiceNotRunning:
            time.sleep(0.1)
            continue
        print("ha-lizard started (pid %s)" % status.get("pid"))
        return EXIT_OK
    sys.stderr.write("ha-lizard: started but not answering after %g s (see the system log)\n" % START_WAIT)
    return EXIT_FAIL


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmd_stop(args, root):
    from halizard.supervisor.control import ServiceNotRunning
    from halizard.supervisor.locks import InstanceLock, read_pid

    lock = InstanceLock(root)
    try:
        pid = _query(root, "status").get("pid")
    except ServiceNotRunning:
        pid = read_pid(root) if lock.is_held_elsewhere() else None
    if not pid:
        print("ha-lizard is not running")
        return EXIT_OK
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        print("ha-lizard is not running")
        return EXIT_OK
    limit = time.monotonic() + args.timeout
    while time.monotonic() < limit:
        if not lock.is_held_elsewhere() and not _pid_alive(pid):
            print("ha-lizard stopped")
            return EXIT_OK
        time.sleep(0.1)
    sys.stderr.write("ha-lizard: pid %d still running after %g s\n" % (pid, args.timeout))
    return EXIT_FAIL


def cmd_restart(args, root):
    status = cmd_stop(args, root)
    if status != EXIT_OK:
        return status
    return cmd_start(args, root)


def cmd_status(args, root):
    from halizard.supervisor.control import ServiceNotRunning

    try:
        status = _query(root, "status")
    except ServiceNotRunning as exc:
        if args.json:
            print(json.dumps({"running": False, "reason": str(exc)}))
        else:
            print("ha-lizard is not running")
        return EXIT_NOT_RUNNING
    if args.json:
        status["running"] = True
        print(json.dumps(status, indent=1, sort_keys=True))
        return EXIT_OK
    print("ha-lizard is running (pid %s, up %ds, %d jobs)" % (status["pid"], status["uptime"], len(status["jobs"])))
    _print_jobs(status["jobs"], status.get("warnings", []))
    return EXIT_OK


def cmd_jobs(args, root):
    from halizard.supervisor.control import ControlError, ServiceNotRunning

    if args.jobs_command is None:
        raise UsageError("jobs: choose list or kill")
    try:
        if args.jobs_command == "list":
            answer = _query(root, "jobs")
            if args.json:
                print(json.dumps(answer, indent=1, sort_keys=True))
            else:
                _print_jobs(answer["jobs"], answer.get("warnings", []))
            return EXIT_OK
        answer = _query(root, "kill", name=args.name)
    except ServiceNotRunning as exc:
        sys.stderr.write("ha-lizard: %s\n" % exc)
        return EXIT_FAIL
    except ControlError as exc:
        sys.stderr.write("ha-lizard: %s\n" % exc)
        return EXIT_FAIL
    if answer["result"] == "idle":
        print("job %s is not running; nothing to kill" % args.name)
    else:
        print("job %s: killing" % args.name)
    return EXIT_OK


def cmd_metrics(args, root):
    """`ha-lizard metrics`: this host's exposition on stdout (no network call)."""
    from halizard.ops import metrics

    sys.stdout.write(metrics.render(root))
    return EXIT_OK


COMMANDS = {"run": cmd_run, "start": cmd_start, "stop": cmd_stop, "restart": cmd_restart,
            "status": cmd_status, "jobs": cmd_jobs, "metrics": cmd_metrics}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    sim = _split_sim(argv)
    if sim is not None:
        sim_root, sim_args = sim
        if sim_root:
            os.environ["HALIZARD_ROOT"] = sim_root
        from halizard.sim.cli import main as sim_main
        return sim_main(sim_args)
    witness = _split_sim(argv, "witness")
    if witness is not None:  # runs off the pool: --root changes nothing for it
        from halizard.witness.cli import main as witness_main
        return witness_main(witness[1])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise UsageError("a command is required")
        root = paths.resolve_root(args.root)
        return COMMANDS[args.command](args, root)
    except UsageError as exc:
        sys.stderr.write("ha-lizard: %s\n" % exc)
        sys.stderr.write(parser.format_usage())
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
