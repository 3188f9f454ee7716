"""The reachability model (links.py through World): partitions, two-way and one-way cuts, the gateway."""
from halizard.sim.links import GATEWAY, Links
from halizard.sim.world import World


def world(n=3, gateway=True):
    w = World(clock=lambda: 0.0)
    for index in range(n):
        w.add_host("h%d" % (index + 1), "host%d" % (index + 1), "127.9.9.%d" % (index + 1))
    if gateway:
        w.add_gateway("127.9.9.252")
    return w


def reach(w):
    """Every (src, dst) pair of distinct nodes that can reach each other."""
    return {(a, b) for a in w.nodes() for b in w.nodes() if a != b and w.can_reach(a, b)}


def test_a_cut_breaks_only_its_own_link_and_is_not_transitive():
    w = world()
    w.links.cut("h1", "h2")
    assert not w.can_reach("h1", "h2") and not w.can_reach("h2", "h1")
    for a, b in (("h1", "h3"), ("h3", "h2"), ("h2", GATEWAY), (GATEWAY, "h1")):
        assert w.can_reach(a, b) and w.can_reach(b, a)
    assert w.can_reach(None, "h1") and w.can_reach(None, "h2")  # the outside world is not cut


def test_a_oneway_cut_drops_one_direction_only():
    w = world()
    w.links.cut("h1", "h2", both_ways=False)
    assert not w.can_reach("h1", "h2")
    assert w.can_reach("h2", "h1")
    assert len(reach(w)) == len(w.nodes()) * (len(w.nodes()) - 1) - 1


def test_heal_ends_cuts_and_partitions_but_not_a_hosts_own_link_loss():
    w = world()
    w.links.cut("h1", "h3")
    w.partition([["h1"], ["h2", "h3", GATEWAY]])
    w.hosts["h2"].link_up = False
    w.heal()
    assert w.can_reach("h1", "h3") and w.can_reach("h1", GATEWAY)
    assert not w.can_reach("h1", "h2"), "link-down is the host's own fault: link-up ends it"
    assert w.links.groups is None and not w.links.cuts


def test_the_gateway_is_a_node_of_partitions_and_left_out_nodes_form_one_group():
    w = world()
    w.partition([["h1"], ["h2", GATEWAY]])
    assert w.can_reach("h2", GATEWAY) and not w.can_reach("h1", GATEWAY)
    assert not w.can_reach("h3", GATEWAY) and not w.can_reach("h3", "h1")  # h3, unnamed, is a group alone
    w.partition([["h1"], ["h2", "h3"]])
    assert not any(w.can_reach(h, GATEWAY) for h in ("h1", "h2", "h3")), "an unnamed gateway is cut off too"


def test_a_powered_off_gateway_answers_no_one_and_a_pool_without_one_has_no_such_node():
    w = world()
    w.gateway.power = "off"
    assert not w.can_reach("h1", GATEWAY) and not w.can_reach(None, GATEWAY)
    assert GATEWAY not in world(gateway=False).nodes()


def test_cut_list_names_each_direction():
    links = Links()
    links.cut("b", "a")
    links.cut("c", "a", both_ways=False)
    assert links.cut_list(str.upper) == [{"from": "A", "to": "B"}, {"from": "B", "to": "A"},
                                         {"from": "C", "to": "A"}]
