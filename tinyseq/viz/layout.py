"""Arranging the drawn nodes: which node stands for which tensors, which cluster holds it,
and the hints that keep dot's layout readable.

A "unit" is one drawn node: a tensor, or a collapsed scope standing for every tensor inside it.
"""

from __future__ import annotations

import graphviz

from . import style


def by_depth(order):
    """Reorder a topological order by longest path from the inputs, so the DOT text (and dot's
    initial layout) reads like the computation.

    Returns:
        The reordered list, and a dict id(tensor) -> depth (0 for inputs).
    """
    depth = {}
    for t in order:
        depth[id(t)] = 1 + max((depth[id(p)] for p in t.parents), default=-1)
    return sorted(order, key=lambda t: depth[id(t)]), depth


def common_scopes(tensors, chosen):
    """For each tensor id in `chosen`, the innermost scope that holds all of its users.

    A layer builds its weights lazily, inside whichever scope its first call ran in; drawn
    there, weights shared by every time step would sit in the first step's cluster.
    """
    common = {}
    for t in tensors:
        for parent in t.parents:
            if id(parent) in chosen:
                scope = common.get(id(parent), t.scope)
                common[id(parent)] = scope[:_shared_length(scope, t.scope)]
    return common


def _shared_length(a, b):
    """The length of the longest common prefix of two scope paths."""
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def collapser(collapse, max_depth):
    """Return a function scope -> the prefix of it drawn as one node, or None.

    Args:
        collapse: scope names (matching at any depth) and scope paths (tuples) to collapse.
        max_depth: collapse every scope nested deeper than this (None: no limit).
    """
    names = {c for c in collapse if isinstance(c, str)}
    paths = {tuple(c) for c in collapse if not isinstance(c, str)}
    cache = {}  # many tensors share a scope: decide once per scope

    def collapsed(scope):
        if scope not in cache:
            cache[scope] = next(
                (scope[:k] for k in range(1, len(scope) + 1)
                 if scope[k - 1] in names or scope[:k] in paths
                 or (max_depth is not None and k > max_depth)), None)
        return cache[scope]
    return collapsed


class Unit:
    """One drawn node.

    Attributes:
        id: the DOT node id.
        members: the tensors it stands for (one, unless it is a collapsed scope).
        cluster: the scope path of the cluster it is drawn in.
        path: for a collapsed scope, that scope's path; None for a single tensor.
        depth: the largest depth of its members.
    """

    __slots__ = ("id", "members", "cluster", "path", "depth")

    def __init__(self, unit_id, cluster, path=None):
        self.id, self.cluster, self.path = unit_id, cluster, path
        self.members = []
        self.depth = 0

    @property
    def location(self):
        """The scope path this unit stands in: its collapsed scope, or its cluster."""
        return self.path or self.cluster


class Units:
    """The drawn nodes of a graph, built tensor by tensor."""

    def __init__(self, collapsed):
        self._collapsed = collapsed
        self.all = []
        self._groups = {}   # collapsed scope path -> its unit
        self._unit_of = {}  # id(tensor) -> its unit

    def add(self, t, node_id, depth, scope):
        """Place tensor `t` (of graph depth `depth`, drawn in `scope`): in its own node
        `node_id`, or in the node of the collapsed scope it belongs to."""
        path = self._collapsed(scope)
        if path is None:
            unit = Unit(node_id, scope)
            self.all.append(unit)
        elif path in self._groups:
            unit = self._groups[path]
        else:
            unit = self._groups[path] = Unit(f"g{len(self._groups)}", path[:-1], path)
            self.all.append(unit)
        unit.members.append(t)
        unit.depth = max(unit.depth, depth)
        self._unit_of[id(t)] = unit

    def edges(self, hidden):
        """(source unit, target unit, parent tensor) in data-flow order, skipping parents in
        `hidden`: one per use of a tensor, but one per pair of units when a group is involved."""
        seen = set()
        for unit in self.all:
            for t in unit.members:
                for parent in t.parents:
                    if id(parent) in hidden:
                        continue
                    source = self._unit_of[id(parent)]
                    if source is unit:
                        continue
                    pair = (source.id, unit.id)
                    if (unit.path is not None or source.path is not None) and pair in seen:
                        continue
                    seen.add(pair)
                    yield source, unit, parent


def chain_hints(units, edges):
    """Layout hints that line up sibling clusters forming a chain, as time steps do.

    When every cluster in a group of siblings feeds the next one (t=1 -> t=2 -> ...):

    * each cluster's first ops get an invisible edge from the previous cluster's deepest op.
      Without it dot lets a step's input-only ops (x(t) @ W) share ranks with the previous
      step and has to stack the steps diagonally instead of in one row;
    * the nodes on the longest path through the chain (the recurrence) share a `group`, which
      makes dot draw that path straight; otherwise every step sits a little higher than the
      one before and a long unrolled network climbs across the page.

    Args:
        units: all `Unit`s drawn.
        edges: (source, target) unit pairs that constrain the layout.

    Returns:
        A list of (source id, target id) pairs to add as invisible edges, and a dict
        unit id -> group name.
    """
    inside = {}  # cluster path -> the units in it or in a cluster below it
    for unit in units:
        location = unit.location
        for k in range(1, len(location) + 1):
            inside.setdefault(location[:k], []).append(unit)
    links, parents_of = set(), {}
    for source, target in edges:
        source_path, target_path = source.location, target.location
        shared = _shared_length(source_path, target_path)
        if len(source_path) > shared and len(target_path) > shared:  # in different children of the common scope
            links.add((source_path[:shared + 1], target_path[:shared + 1]))
        parents_of.setdefault(target, set()).add(source)
    siblings = {}
    for path in inside:
        siblings.setdefault(path[:-1], []).append(path)
    extra, groups = [], {}
    for parent, children in sorted(siblings.items(), key=lambda item: len(item[0])):
        children.sort(key=lambda path: max(u.depth for u in inside[path]))
        if len(children) < 2 or not all(pair in links for pair in zip(children, children[1:])):
            continue
        for before, after in zip(children, children[1:]):
            last = max(inside[before], key=lambda u: u.depth)
            members = set(inside[after])
            extra += [(last.id, u.id) for u in inside[after]
                      if not parents_of.get(u, set()) & members and last not in parents_of.get(u, ())]
        # Walk the longest path back from the chain's deepest unit, while it stays in the chain.
        unit = max(inside[children[-1]], key=lambda u: u.depth)
        depth = len(parent)
        while unit is not None and len(unit.location) > depth and unit.location[:depth] == parent:
            groups.setdefault(unit.id, "chain:" + "/".join(parent))  # the outermost chain wins
            unit = max(parents_of.get(unit, ()), key=lambda u: u.depth, default=None)
    return extra, groups


class Clusters:
    """The nested cluster subgraphs for a set of scope paths, coloured by scope name."""

    def __init__(self, graph, paths, heatmap):
        """Make one cluster per scope path in `paths` and per enclosing scope.

        Args:
            graph: the top-level graph the clusters go into.
            paths: scope paths in first-appearance order (siblings are emitted in that order).
            heatmap: outline the innermost clusters instead of filling them, so that the
                nodes' heat colours stand out.
        """
        self._graph = graph
        self._graphs = {}
        for path in paths:
            for k in range(1, len(path) + 1):
                self._graphs.setdefault(path[:k], None)
        outer = {path[:-1] for path in self._graphs}
        fallbacks = {}  # scope name -> its place among the shared tints
        for i, path in enumerate(self._graphs):
            attrs = {"label": path[-1], "fontname": style.FONT, "fontsize": "13", "margin": "10"}
            if path in outer:
                attrs.update(style.OUTER_CLUSTER)
            else:
                if path[-1] not in style.SCOPE_COLORS:
                    fallbacks.setdefault(path[-1], len(fallbacks))
                tint, border = style.scope_colors(path[-1], fallbacks.get(path[-1], 0))
                attrs.update(style="rounded" if heatmap else "rounded,filled", fillcolor=tint,
                             color=border, penwidth="2" if heatmap else "1")
            self._graphs[path] = graphviz.Digraph(name=f"cluster_{i}", graph_attr=attrs)

    def graph_for(self, path):
        """The (sub)graph that holds nodes of scope `path` (the top-level graph for ())."""
        return self._graphs[path] if path else self._graph

    def attach(self):
        """Add the clusters to their parents, innermost first (graphviz copies a subgraph's text)."""
        for path in sorted(self._graphs, key=len, reverse=True):
            self.graph_for(path[:-1]).subgraph(self._graphs[path])
