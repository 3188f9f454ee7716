"""Run `ha-cfg` in-process against one host of a simulated pool; (exit status, stdout, stderr)."""
import io

from halizard.cli import ha_cfg


def run_ha_cfg(pool, host, *args, stdin=""):
    """`ha-cfg --root <host's root> args...` with `stdin` as its input."""
    out, err = io.StringIO(), io.StringIO()
    status = ha_cfg.main(["--root", pool.host(host)["root"]] + list(args), stdin=io.StringIO(stdin),
                         stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()
