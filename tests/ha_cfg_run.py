"""Run `ha-cfg` in-process against one host of a simulated pool; (exit status, stdout, stderr).
Also what the ha-cfg tests read back: the pool's other_config, through the master's xapi."""
import io

from halizard.cli import ha_cfg


def run_ha_cfg(pool, host, *args, stdin=""):
    """`ha-cfg --root <host's root> args...` with `stdin` as its input."""
    out, err = io.StringIO(), io.StringIO()
    status = ha_cfg.main(["--root", pool.host(host)["root"]] + list(args), stdin=io.StringIO(stdin),
                         stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def pool_other_config(pool):
    """The pool record's other_config as the master holds it (where ha-cfg stores the parameters)."""
    session = pool.xenapi_session()
    try:
        return session.xenapi.pool.get_other_config(session.xenapi.pool.get_all()[0])
    finally:
        session.xenapi.session.logout()
