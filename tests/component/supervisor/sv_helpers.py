"""Starting and watching a real `ha-lizard run` for the supervisor component tests."""
import json
import os
import signal
import subprocess
import sys

from waiting import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


def env_for(root, jobs):
    """Environment registering `jobs` (name -> dict) as the only jobs, via HALIZARD_JOBS."""
    jobs_file = os.path.join(root, "jobs.json")
    with open(jobs_file, "w") as handle:
        json.dump({"replace": True, "jobs": jobs}, handle)
    env = dict(os.environ)
    env["HALIZARD_JOBS"] = jobs_file
    env["PYTHONPATH"] = os.pathsep.join([HERE, REPO])
    env.pop("NOTIFY_SOCKET", None)
    env.pop("HALIZARD_ROOT", None)
    return env


def write_override(root, **values):
    path = os.path.join(root, "etc", "ha-lizard", "ha-lizard.conf")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write("# test override\n")
        for key, value in values.items():
            handle.write("%s=%s\n" % (key, value))


def cli(root, *args, env=None, timeout=30):
    """Run `ha-lizard --root ROOT ARGS...` and return the CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "halizard.cli.ha_lizard", "--root", root] + list(args),
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=timeout)


def jobs(root, env=None):
    """name -> job, asked over the control socket (cheap enough to poll; the CLI has its own tests)."""
    from halizard.supervisor.control import query

    return {job["name"]: job for job in query(root, "jobs", timeout=15.0)["jobs"]}


def running(root):
    from halizard.supervisor.control import ServiceNotRunning, query

    try:
        return query(root, "status", timeout=10.0)
    except ServiceNotRunning:
        return None


def evidence(root, name):
    path = os.path.join(root, "evidence", name + ".jsonl")
    try:
        with open(path) as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []


def process_alive(pid):
    """True when `pid` exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[0] != "Z"


def group_members(pgid):
    """Live (non-zombie) pids whose process group is `pgid`."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


class Service:
    """A foreground `ha-lizard run` for one test root; always stopped at teardown."""

    def __init__(self, root, jobs_table, extra_args=(), env=None, prefix=()):
        self.root = str(root)
        self.env = env or env_for(self.root, jobs_table)
        self.log_path = os.path.join(self.root, "service.log")
        self.command = list(prefix) + [sys.executable, "-m", "halizard.cli.ha_lizard", "--root", self.root,
                                        "run", "--log-file", self.log_path] + list(extra_args)
        self.proc = None

    def start(self, wait=True):
        self.stderr = open(os.path.join(self.root, "service.stderr"), "w")
        self.proc = subprocess.Popen(self.command, env=self.env, stdout=self.stderr, stderr=self.stderr,
                                     start_new_session=True)
        if wait:
            wait_until(self.answering, 60, message="the service to answer")
        return self

    def answering(self):
        if self.proc.poll() is not None:  # not an AssertionError: wait_until would keep waiting
            with open(self.stderr.name, errors="replace") as err:
                raise RuntimeError("service exited early with %s: %s%s" % (self.proc.returncode, self.log(),
                                                                           err.read()[-2000:]))
        return running(self.root) is not None

    def log(self):
        try:
            with open(self.log_path) as handle:
                return handle.read()
        except FileNotFoundError:
            return ""

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=25):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
            raise AssertionError("service did not stop within %g s" % timeout) from None
        finally:
            self.stderr.close()
