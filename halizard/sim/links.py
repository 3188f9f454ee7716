"""Which simulated node's packets reach which: partitions and cut links.

Why: real networks fail in ways a "groups" model cannot show. A partition
splits the nodes into groups that only reach inside their own group, and is
transitive by construction; a single broken link (a bad cable between two
switches, an ACL) is not: A and B lose each other while both still reach C.
A one-way cut (a filter, a half-duplex fault) drops only A's packets to B.
Nodes are host uuids, the pool's gateway (`GATEWAY`) and its witness (`WITNESS`). Power and a host's
own NIC (link-down) are World's; this module knows only the paths between
nodes. Not thread-safe: SimPool locks.
"""

GATEWAY = "gateway"  # the node id (and fault target name) of the pool's gateway
WITNESS = "witness"  # the node id (and fault target name) of the pool's witness (`sim up --witness`)


class Links(object):
    """Partition groups plus a set of cut directions (src, dst)."""

    def __init__(self):
        self.groups = None  # node -> partition group index, or None when not partitioned
        self.cuts = set()  # (src, dst): src's packets do not reach dst

    def partition(self, groups, nodes):
        """groups: lists of nodes; every node of `nodes` left out forms one more group."""
        mapping = {}
        for index, group in enumerate(groups):
            for node in group:
                mapping[node] = index
        for node in nodes:
            mapping.setdefault(node, len(groups))
        self.groups = mapping

    def cut(self, src, dst, both_ways=True):
        """src's packets no longer reach dst (and dst's not src, both ways)."""
        self.cuts.add((src, dst))
        if both_ways:
            self.cuts.add((dst, src))

    def heal(self):
        """Every partition and every cut ends."""
        self.groups = None
        self.cuts.clear()

    def passes(self, src, dst):
        """Whether the path from src to dst carries packets (None = the outside world: always)."""
        if src is None or src == dst:
            return True
        if (src, dst) in self.cuts:
            return False
        return self.groups is None or self.groups.get(src) == self.groups.get(dst)

    def cut_list(self, name_of):
        """The cut directions as [{"from": name, "to": name}], sorted (status --json)."""
        return sorted(({"from": name_of(src), "to": name_of(dst)} for src, dst in self.cuts),
                      key=lambda cut: (cut["from"], cut["to"]))
