"""Exercise `engine_backward`: the backward walk of a scalar autograd engine of your own."""

from __future__ import annotations

import inspect
import math

from ..tensor import Tensor
from .checking import CheckFailure, Exercise, call

INTRODUCTION = """
Exercise engine_backward (tutorial 00): the backward pass of an engine of your own.

The class Value below is a complete little autograd engine except for one function. Each
Value made by an operation remembers its inputs (`parents`) and, for each input, the local
derivative of the result with respect to that input (`local_grads`): for c = a * b,
c.parents == (a, b) and c.local_grads == (b.data, a.data). Every Value starts with grad 0.

Write backward(output): afterwards every Value that output depends on must hold in .grad the
derivative d(output)/d(that value). Write it in two parts:

1. topological_order(output): a list of every Value output depends on (output included),
   each once, every node after its parents, so output comes last;
2. backward(output), the chain rule node by node:

    output.grad = 1
    for node in reversed(topological_order(output)):   # every node before its parents
        for parent, local in zip(node.parents, node.local_grads):
            parent.grad += local * node.grad

What makes this harder than it looks:

* the order: a node may pass its gradient on only once *all* of the nodes that use it have
  added theirs; that is a reverse topological order (children before parents), which you
  build by a depth-first search that appends a node after its parents;
* reuse: in b = a + a, a is a parent twice and must receive both contributions (+=, and do not
  turn node.parents into a set); a node used by two others (a diamond) sums both paths;
* depth: the checker's last graph is a chain of 10,000 operations. Python allows about 1,000
  nested calls, so the search must be a loop with an explicit stack, not recursion.

Do not change the class Value: the checker builds its graphs with this same class and calls
your backward on them (backward only: topological_order is your helper, shape it as you like).

Check your answer (any number of times):

    tinyseq exercise check engine_backward.py

The checker builds graphs with reuse, diamonds and a 10,000-step chain, runs your backward,
and compares every input's .grad with what tinyseq's own engine computes for the same graph.
"""


class Value:
    """A number that remembers how it was computed: `parents` and, for each, d(self)/d(parent)."""

    def __init__(self, data, parents=(), local_grads=()):
        self.data = float(data)
        self.grad = 0.0
        self.parents = parents
        self.local_grads = local_grads

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, exponent):
        """self ** exponent for a plain number `exponent`."""
        return Value(self.data ** exponent, (self,), (exponent * self.data ** (exponent - 1),))

    def tanh(self):
        """The hyperbolic tangent; its derivative is 1 - tanh²."""
        result = math.tanh(self.data)
        return Value(result, (self,), (1 - result * result,))

    def exp(self):
        """e ** self; its derivative is itself."""
        result = math.exp(self.data)
        return Value(result, (self,), (result,))

    # The rest are made of the operations above, so they need no derivatives of their own.
    __radd__ = __add__
    __rmul__ = __mul__

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __truediv__(self, other):
        return self * other ** -1

    def __repr__(self):
        return f"Value(data={self.data:.4g}, grad={self.grad:.4g})"


def topological_order(output):
    """Return every Value that `output` depends on (itself included), each once, every node
    after its parents, so `output` comes last. A loop with an explicit stack: no recursion."""
    order, expanded = [], set()
    stack = [(output, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)  # its parents were appended before it
        elif node not in expanded:
            expanded.add(node)
            stack.append((node, True))
            stack.extend((parent, False) for parent in node.parents if parent not in expanded)
    return order


def backward(output):
    """Set .grad of every Value that `output` depends on to d(output)/d(that value)."""
    output.grad = 1.0
    for node in reversed(topological_order(output)):
        for parent, local in zip(node.parents, node.local_grads):
            parent.grad += local * node.grad


# ---- the graphs: each builder works on Values and on tinyseq Tensors alike -----------------------
CHAIN_LENGTH = 10_000


def _chain(x):
    for _ in range(CHAIN_LENGTH):
        x = x * 1.00005
    return x


def _uneven_diamond(x):
    y = x.tanh()  # one node used twice: once directly, once through two more tanh
    return y * (1.5 * (1.5 * y).tanh()).tanh() + x


GRAPHS = [
    ("one product, x * y", (2.0, -3.0), lambda x, y: x * y),
    ("a node used twice by one operation, x * x + x", (1.5,), lambda x: x * x + x),
    ("a reused node: b = x + x, out = b * x", (-0.7,), lambda x: (x + x) * x),
    ("a diamond: out = (2 * x) * (x + 3)", (0.4,), lambda x: (2 * x) * (x + 3)),
    ("a diamond with paths of different lengths: y = tanh(x), out = y * tanh(1.5 * tanh(1.5 * y)) + x",
     (0.8,), _uneven_diamond),
    ("a neuron: tanh(w1 * x1 + w2 * x2 + b)", (0.5, -1.2, 2.0, 0.3, 0.1),
     lambda w1, x1, w2, x2, b: (w1 * x1 + w2 * x2 + b).tanh()),
    ("division and exp: exp(x / y) - y ** 2", (0.6, 1.7), lambda x, y: (x / y).exp() - y ** 2),
    (f"a chain of {CHAIN_LENGTH:,} products, x * 1.00005 * 1.00005 * ...", (1.3,), _chain),
]


def _reference_grads(build, inputs):
    """d(output)/d(input) for every input, by tinyseq's engine on the same graph."""
    leaves = [Tensor(value, requires_grad=True, dtype="float64") for value in inputs]
    build(*leaves).backward()
    return [leaf.grad.item() for leaf in leaves]


def _grads_after(walk, build, inputs):
    leaves = [Value(value) for value in inputs]
    walk(build(*leaves))
    return [leaf.grad for leaf in leaves]


# ---- known mistakes, as walks ------------------------------------------------------------------
def _walk_in_order(output, order_of, propagate):
    """Seed output.grad and let each node, in the order `order_of(output)` gives, `propagate`."""
    output.grad = 1.0
    for node in order_of(output):
        propagate(node)


def _accumulate(node):
    for parent, local in zip(node.parents, node.local_grads):
        parent.grad += local * node.grad


def _children_first(output):
    return topological_order(output)[::-1]


def _breadth_first(output):
    order, seen, queue = [], {output}, [output]
    while queue:
        node = queue.pop(0)
        order.append(node)
        for parent in node.parents:
            if parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return order


def _every_path(output):
    """Each node once per path that reaches it (a walk without a visited set)."""
    order, stack = [], [output]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.parents)
    return order


def _unique_parents(node):
    for parent, local in dict(zip(node.parents, node.local_grads)).items():
        parent.grad += local * node.grad


def _overwrite(node):
    for parent, local in zip(node.parents, node.local_grads):
        parent.grad = local * node.grad


MISTAKES = [
    ("the order is breadth-first from the output, which is not topological: a node passed its "
     "gradient on before every node that uses it had added theirs. Order the nodes by a "
     "depth-first search that appends a node after its parents, then walk that list backwards.",
     lambda output: _walk_in_order(output, _breadth_first, _accumulate)),
    ("a node is visited once per path that reaches it (no record of visited nodes), so its "
     "gradient is passed on several times. Visit each node once, after all of its users.",
     lambda output: _walk_in_order(output, _every_path, _accumulate)),
    ("a parent that appears twice in node.parents (as in x * x or x + x) receives only one "
     "contribution: keep zip(node.parents, node.local_grads) as it is, with no set or dict.",
     lambda output: _walk_in_order(output, _children_first, _unique_parents)),
    ("parent.grad is overwritten (=), not accumulated (+=): a node used twice must sum both.",
     lambda output: _walk_in_order(output, _children_first, _overwrite)),
    ("the walk runs from the inputs to the output: reverse the topological order.",
     lambda output: _walk_in_order(output, topological_order, _accumulate)),
    ("output.grad is never set to 1: d(output)/d(output) = 1 starts the chain rule.",
     lambda output: [_accumulate(node) for node in _children_first(output)]),
]


def _close(grad, expected):
    """Whether a learner's .grad is a number equal to `expected` up to float64 round-off."""
    return isinstance(grad, (int, float)) and math.isclose(grad, expected, rel_tol=1e-9, abs_tol=1e-12)


def check(functions):
    """Run the learner's backward on every graph; return the number of graphs passed."""
    learner_backward = functions["backward"]
    for number, (label, inputs, build) in enumerate(GRAPHS, 1):
        leaves = [Value(value) for value in inputs]
        output = build(*leaves)
        call(learner_backward, output)
        grads, expected = [leaf.grad for leaf in leaves], _reference_grads(build, inputs)
        wrong = [i for i, (mine, theirs) in enumerate(zip(grads, expected)) if not _close(mine, theirs)]
        if not wrong:
            continue
        names = list(inspect.signature(build).parameters)
        details = ", ".join(f"{names[i]}.grad is {grads[i]!r}, expected {expected[i]:.6g}" for i in wrong)
        mistake = next((description for description, walk in MISTAKES
                        if all(map(_close, grads, _grads_after(walk, build, inputs)))), None)
        raise CheckFailure(f"backward, graph {number} of {len(GRAPHS)} ({label}): {details}."
                           + (f"\nYour gradients match a known mistake: {mistake}" if mistake else ""))
    return len(GRAPHS)


EXERCISE = Exercise(
    name="engine_backward", tutorial="00_build_an_engine",
    task="backward(output): the backward walk of a scalar engine (topological order, reuse, no recursion)",
    introduction=INTRODUCTION, imports="import math", given=(Value,), solution=(topological_order, backward),
    check=check)
