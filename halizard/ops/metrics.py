"""`ha-lizard metrics`: the Prometheus text exposition of what this host knows, and its textfile copy.

Why: the admin's dashboards and alert rules need numbers, not log lines.
Everything comes from what the service already keeps: the supervisor's job
counts and durations (its `jobs` answer), the journal's counters (fence
attempts, VM restarts, last incident), the master's host-health report
(health states, quorum; on a slave the self-fence job's quorum), the stored
failure tolerance and the refusal flags of an unsafe configuration.
Names follow the Prometheus conventions: `halizard_` prefix, base units
(seconds, bytes), `_total` for counters.
"""
import json

from halizard.atomicfile import write_atomic
from halizard.config import refusal
from halizard.control_client import query
from halizard.ops import journal
from halizard.alerts import raise_alert
from halizard.statefiles import StateStore

ALERT_FUNCTION = "metrics"
ERROR_STATE = "metrics-file-error"


def _esc(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels):
    if not labels:
        return ""
    return "{%s}" % ",".join('%s="%s"' % (k, _esc(v)) for k, v in sorted(labels.items()))


def _num(value):
    if isinstance(value, float):
        return repr(value)
    return str(int(value))


class Exposition:
    """Families in order: each with its HELP and TYPE once, then its samples."""

    def __init__(self):
        self.lines = []

    def family(self, name, kind, text, samples):
        """samples: [(labels dict, value)] (histograms: use `histogram`)."""
        self.lines.append("# HELP %s %s" % (name, text))
        self.lines.append("# TYPE %s %s" % (name, kind))
        for labels, value in samples:
            self.lines.append("%s%s %s" % (name, _labels(labels), _num(value)))

    def histogram(self, name, text, series):
        """series: [(labels, {"le": bounds, "buckets": cumulative counts, "sum", "count"})]."""
        self.lines.append("# HELP %s %s" % (name, text))
        self.lines.append("# TYPE %s histogram" % name)
        for labels, h in series:
            for bound, count in zip(h["le"], h["buckets"]):
                self.lines.append("%s_bucket%s %d" % (name, _labels(dict(labels, le=repr(float(bound)))), count))
            self.lines.append("%s_bucket%s %d" % (name, _labels(dict(labels, le="+Inf")), h["count"]))
            self.lines.append("%s_sum%s %s" % (name, _labels(labels), repr(round(float(h["sum"]), 6))))
            self.lines.append("%s_count%s %d" % (name, _labels(labels), h["count"]))

    def text(self):
        return "\n".join(self.lines) + "\n"


def _jobs(root):
    try:
        answer = query(root, "jobs", timeout=2.0)
    except Exception:  # noqa: BLE001 - no service: no job series, and halizard_service_up 0
        return None
    return answer.get("jobs") if isinstance(answer, dict) else None


def _job_families(out, jobs):
    out.family("halizard_service_up", "gauge", "1 when the ha-lizard service answers on this host.",
               [({}, 0 if jobs is None else 1)])
    jobs = [j for j in jobs or [] if isinstance(j, dict)]
    counts = [(j["name"], j.get("counts") or {}) for j in jobs]
    out.family("halizard_job_runs_total", "counter", "Finished runs of each supervisor job.",
               [({"job": n}, sum(c.values())) for n, c in counts])
    out.family("halizard_job_failures_total", "counter", "Runs that ended in an error or were killed.",
               [({"job": n}, c.get("error", 0) + c.get("killed", 0)) for n, c in counts])
    out.family("halizard_job_deadline_kills_total", "counter", "Runs ended by their deadline.",
               [({"job": n}, c.get("timed_out", 0)) for n, c in counts])
    out.histogram("halizard_job_duration_seconds", "How long job runs took.",
                  [({"job": j["name"]}, j["durations"]) for j in jobs if j.get("durations")])


def _health_families(out, state):
    report = state.read("host-health", {}) or {}
    hosts = report.get("hosts") if isinstance(report.get("hosts"), dict) else {}
    states = ("master", "healthy", "failed", "unknown")
    samples = []
    for uuid, h in sorted(hosts.items()):
        health = h.get("health") if h.get("health") in states else "unknown"
        for s in states:
            samples.append(({"host": h.get("name_label") or uuid, "state": s}, 1 if s == health else 0))
    out.family("halizard_host_health", "gauge", "1 for each host's health state in the master's last report.",
               samples)
    quorum = report.get("quorum")
    if not isinstance(quorum, dict):
        quorum = (state.read("self-fence", {}) or {}).get("quorum")
    quorum = quorum if isinstance(quorum, dict) else {}
    out.family("halizard_quorum_votes", "gauge", "Votes this host counted in its last quorum round.",
               [({}, quorum["votes"])] if "votes" in quorum else [])
    out.family("halizard_quorum_hosts", "gauge", "Hosts that could vote in that round.",
               [({}, quorum["total"])] if "total" in quorum else [])
    out.family("halizard_quorum", "gauge", "1 when that round had quorum.",
               [({}, 1 if quorum["has_quorum"] else 0)] if "has_quorum" in quorum else [])


def _journal_families(out, state):
    _entries, doc = journal.read(state)
    counters = doc.get("counters") or {}

    def labelled(prefix):
        found = []
        for key, value in sorted(counters.items()):
            if key == prefix or key.startswith(prefix + "{"):
                found.append((json.loads(key[len(prefix):]) if key != prefix else {}, value))
        return found
    out.family("halizard_fence_attempts_total", "counter", "Fence attempts by method and outcome.",
               labelled("fence_attempts"))
    out.family("halizard_host_failures_total", "counter", "Hosts this host judged failed.",
               labelled("host_failed"))
    out.family("halizard_vm_restarts_total", "counter", "VMs this host put back in Running after a failure.",
               labelled("vm_restarts") or [({}, 0)])
    latency = doc.get("latency") or {}
    cumulative = list(latency.get("buckets") or [0] * len(journal.LATENCY_BUCKETS))
    out.histogram("halizard_vm_restart_latency_seconds",
                  "Seconds from the first evidence of a failure to the VM running again.",
                  [({}, {"le": journal.LATENCY_BUCKETS, "buckets": cumulative,
                         "sum": latency.get("sum", 0.0), "count": latency.get("count", 0)})])
    out.family("halizard_takeover_steps_total", "counter", "Master takeover steps this host took.",
               labelled("takeover"))
    out.family("halizard_self_fences_total", "counter", "Self-fences of this host.", labelled("self_fence"))
    last = doc.get("last_incident")
    out.family("halizard_last_incident_timestamp_seconds", "gauge",
               "When this host last journaled a fault (Unix time).", [({}, float(last))] if last else [])


def _pool_families(out, state):
    tol = state.read("failure-tolerance", {}) or {}
    if "failures" in tol:
        out.family("halizard_failure_tolerance", "gauge",
                   "Host failures the pool survives with every protected VM placed (master's last sweep).",
                   [({"exact": "true" if tol.get("exact") else "false"}, tol["failures"])])
        out.family("halizard_failure_tolerance_required", "gauge", "FAILURES_TO_TOLERATE.",
                   [({}, tol.get("required", 0))])
    unsafe = refusal.refusing(state)
    out.family("halizard_unsafe_configuration", "gauge",
               "1 while HA refuses to act because the configuration is unsafe.", [({}, 1 if unsafe else 0)])


def render(root):
    """The whole exposition for the host whose files live under `root`."""
    state = StateStore(root)
    out = Exposition()
    _job_families(out, _jobs(root))
    _health_families(out, state)
    _journal_families(out, state)
    _pool_families(out, state)
    return out.text()


def write_file(root, path, text, log, config=None):
    """Write the textfile atomically (node_exporter must never read half); False when it failed.

    A failure logs one ERROR line and raises one alert while its reason lasts
    (state file ERROR_STATE); a later success says so once at INFO.
    """
    state = StateStore(root)
    try:
        write_atomic(path, text, mode=0o644)
        if state.read(ERROR_STATE, None) is not None:
            state.remove(ERROR_STATE)
            log.info("metrics file {} written again", path)
        return True
    except OSError as exc:
        why = "metrics file %s not written: %s" % (path, exc.strerror or exc)
    if state.read(ERROR_STATE, None) == why:  # one ERROR line and one alert while the same reason lasts
        log.debug("{}", why)
        return False
    log.error("{}", why)
    try:
        state.write(ERROR_STATE, why)
        raise_alert(ALERT_FUNCTION, why, root=root, config=config)
    except Exception as exc:  # noqa: BLE001 - the service keeps running
        log.error("alert not raised: {}", type(exc).__name__)
    return False


def metrics_path(config):
    """METRICS_FILE, or None when off."""
    value = str(config.get("METRICS_FILE") or "").strip()
    return value or None
