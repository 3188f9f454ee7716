"""core.roles: evidence of another master (issue 13 findings 2 and 3, issue 19 item 1).

Each test states one rule the pure decisions must keep; the ones marked "failed before" did on
the code before this change.
"""
from core_builders import host, pool
from halizard.core import roles


def _hosts(n=3, master=1, **health_fields):
    return [host("h%d" % i, address="127.9.0.%d" % i, is_master=(i == master),
                 health_field=health_fields.get("h%d" % i, "master" if i == master else "healthy"))
            for i in range(1, n + 1)]


# --- finding 2: a slave that names another master ----------------------------------------------

def test_a_slave_naming_a_third_address_is_evidence_of_another_master():
    """Failed before: ALONE, so the stale master cleared master-conflict and started VMs."""
    pv = pool(_hosts(4))
    got = roles.resolve_masters(pv, "h1", {"h2": ("slave", "127.9.0.3"), "h3": ("timeout", None),
                                           "h4": ("slave", "127.9.0.1")})
    assert got.action == roles.STAND_DOWN, got
    assert "127.9.0.3" in got.why and "h3" in got.why


def test_a_slave_naming_an_unknown_address_is_evidence_too():
    pv = pool(_hosts(3))
    got = roles.resolve_masters(pv, "h1", {"h2": ("slave", "127.9.9.9"), "h3": ("slave", "127.9.0.1")})
    assert got.action == roles.STAND_DOWN and "127.9.9.9" in got.why


def test_slaves_naming_this_host_leave_it_alone():
    pv = pool(_hosts(3))
    got = roles.resolve_masters(pv, "h1", {"h2": ("slave", "127.9.0.1"), "h3": ("slave", "127.9.0.1")})
    assert got.action == roles.ALONE


def test_a_slave_still_following_a_master_this_database_marks_failed_is_pulled_over():
    """The new master after its takeover: a slave recover_slaves missed still names the old master."""
    pv = pool(_hosts(3, master=2, h1="failed"), master="h2")
    got = roles.resolve_masters(pv, "h2", {"h1": ("timeout", None), "h3": ("slave", "127.9.0.1")})
    assert got.action == roles.RECOVER and got.others == () and got.strays == ("h3",), got
