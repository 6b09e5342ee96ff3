"""Walking a tensor's graph: every tensor that led to some outputs, inputs first.

The walk is iterative because an unrolled recurrent network easily makes a graph far deeper
than Python's recursion limit.
"""

from __future__ import annotations

from ..tensor import Tensor


def as_roots(outputs):
    """Return `outputs` (one tensor or an iterable of tensors) as a tuple of tensors."""
    roots = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    for root in roots:
        if not isinstance(root, Tensor):
            raise TypeError(f"viz: expected tensors to draw, got {type(root).__name__}")
    if not roots:
        raise ValueError("viz: nothing to draw; pass at least one tensor")
    return roots


def topological_order(outputs):
    """List every tensor that `outputs` were computed from, each once, inputs before users.

    Args:
        outputs: a tensor, or an iterable of tensors, whose graph to walk.

    Returns:
        A list of tensors in which every tensor comes after all of its `parents`.
    """
    order = []
    seen = set()  # ids, not tensors: Tensor.__eq__ compares values
    for root in as_roots(outputs):
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root.parents))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append((parent, iter(parent.parents)))
                    break
            else:  # every parent is placed: the node can follow them
                stack.pop()
                order.append(node)
    return order


def retain_grads(outputs):
    """Make every op in the graph of `outputs` keep its gradient, for a gradient heatmap.

    By default backward keeps `.grad` only on leaves; call this after the forward pass and
    before `backward()` so that every intermediate tensor keeps its gradient too:

        loss = model(x).sum()
        tinyseq.viz.retain_grads(loss)
        loss.backward()
        tinyseq.viz.draw(loss, grad_heatmap=True)

    Args:
        outputs: a tensor, or an iterable of tensors, whose graph to mark.

    Returns:
        The number of tensors marked.
    """
    marked = 0
    for node in topological_order(outputs):
        if node.parents and node.requires_grad:
            node.retain_grad()
            marked += 1
    return marked
