"""The autograd core: a `Tensor` that remembers how it was made, and `backward()`.

A tensor made by an op keeps its inputs (`parents`) and a small function (`backward_fn`) that
turns the gradient of its output into gradients for each input. `backward()` walks that graph
from the output to the leaves in reverse topological order, summing gradients where a tensor
feeds several ops. Two jobs are done here, once, for every op:

* reducing a gradient to its input's shape when the forward pass broadcast that input, and
* freeing each node's saved arrays as soon as its gradient has been passed on.

The ops themselves (forward next to backward) live in `tinyseq.ops`.
"""

from __future__ import annotations

import contextlib

import numpy as np

_grad_enabled = True
_scope: tuple[str, ...] = ()  # the name-scope path that new ops are tagged with


class ShapeError(ValueError):
    """Raised when an op's inputs have shapes it cannot combine; the message names the op."""


def _graph_freed(grad):
    raise RuntimeError(
        "backward: trying to backward through the graph a second time; its saved values were "
        "freed by the first backward. Call backward(retain_graph=True) the first time if you "
        "need a second pass.")


class Tensor:
    """A numpy array plus what autograd needs: `requires_grad`, `grad` and the op that made it.

    Attributes:
        data: the numpy array holding the values.
        grad: the accumulated gradient (a numpy array of `data`'s shape) or None.
        requires_grad: whether gradients flow to this tensor.
        parents: the tensors this one was computed from (empty for leaves).
        backward_fn: maps the output gradient to one gradient per parent (None for leaves).
        op: the name of the op that made it ("leaf" for tensors made from data).
        scope: the `name_scope` path active when it was made, e.g. ("lstm", "forget_gate").
    """

    __slots__ = ("data", "grad", "requires_grad", "parents", "backward_fn", "op", "scope",
                 "retains_grad", "__weakref__")
    __array_ufunc__ = None  # numpy defers to our reflected operators: array * tensor -> tensor
    __hash__ = object.__hash__  # __eq__ compares values; identity stays the hash

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"tensor: requires_grad needs a floating-point dtype, got {self.data.dtype}")
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.parents = ()
        self.backward_fn = None
        self.op = "leaf"
        self.scope = _scope
        self.retains_grad = False

    # ---- plain information -------------------------------------------------------------
    shape = property(lambda self: self.data.shape, doc="The shape of `data`.")
    dtype = property(lambda self: self.data.dtype, doc="The numpy dtype of `data`.")
    ndim = property(lambda self: self.data.ndim, doc="The number of dimensions.")
    size = property(lambda self: self.data.size, doc="The number of elements.")

    def numpy(self):
        """Return the underlying numpy array (shared, not copied)."""
        return self.data

    def item(self):
        """Return the value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor has an item; this one has shape {self.shape}")
        return self.data.item()

    def detach(self):
        """Return a tensor sharing this one's data but cut from the graph (no gradient flows)."""
        return Tensor(self.data)

    def zero_grad(self):
        """Forget the accumulated gradient."""
        self.grad = None

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in `.grad` after backward (leaves always do)."""
        self.retains_grad = True
        return self

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = f", op={self.op}" if self.backward_fn is not None else ""
        extra += ", requires_grad=True" if self.requires_grad else ""
        extra += f", dtype={self.dtype}" if self.dtype != np.float32 else ""
        return f"tensor({body}{extra})"

    def __len__(self):
        return len(self.data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __bool__(self):
        return bool(self.data)

    # Comparisons give plain boolean arrays: they are not differentiable.
    def __eq__(self, other): return self.data == _value(other)
    def __ne__(self, other): return self.data != _value(other)
    def __lt__(self, other): return self.data < _value(other)
    def __le__(self, other): return self.data <= _value(other)
    def __gt__(self, other): return self.data > _value(other)
    def __ge__(self, other): return self.data >= _value(other)

    # ---- backward -----------------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into the `.grad` of every leaf that requires grad.

        Args:
            grad: the gradient of some final quantity with respect to this tensor. May be
                omitted only for a one-element tensor, where it defaults to 1.
            retain_graph: keep the saved values so backward can run through the graph again.

        Leaf gradients add up across calls, as in PyTorch: call `zero_grad()` between steps.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad; no input that "
                               "led to it has requires_grad=True")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: a gradient can be implied only for a one-element "
                                   f"tensor, but this one has shape {self.shape}; pass grad= "
                                   f"of that shape or reduce it first (e.g. .sum())")
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(_value(grad), dtype=self.data.dtype)
            if grad.shape != self.shape:
                raise ShapeError(f"backward: grad has shape {grad.shape} but the tensor has shape {self.shape}")

        # Pass 1: count, for every node, how many graph edges lead into it from its consumers.
        # A node is ready once all of them have delivered their gradient. (Iterative: an
        # unrolled RNN makes graphs far deeper than Python's recursion limit.)
        pending = {self: 0}
        stack = [self]
        while stack:
            node = stack.pop()
            if node.backward_fn is _graph_freed:
                _graph_freed(None)
            for parent in node.parents:
                if parent.requires_grad:
                    if parent in pending:
                        pending[parent] += 1
                    else:
                        pending[parent] = 1
                        stack.append(parent)

        # Pass 2: hand gradients down in reverse topological order. `owned` holds the nodes
        # whose gradient buffer the engine allocated itself, so it may add into it in place.
        grads, owned = {self: grad}, set()
        ready = [self]
        while ready:
            node = ready.pop()
            grad = grads.pop(node)
            if node.backward_fn is None or node.retains_grad:
                node.grad = grad.copy() if node.grad is None else node.grad + grad
            if node.backward_fn is None:
                continue
            for parent, parent_grad in zip(node.parents, node.backward_fn(grad)):
                if not parent.requires_grad:
                    continue
                if parent_grad.__class__ is IndexedGrad:
                    if parent not in owned:
                        grads[parent] = grads[parent].copy() if parent in grads else np.zeros_like(parent.data)
                        owned.add(parent)
                    parent_grad.add_into(grads[parent])
                else:
                    if parent_grad.shape != parent.data.shape:
                        parent_grad = sum_to_shape(parent_grad, parent.data.shape)
                    if parent in owned:
                        grads[parent] += parent_grad
                    elif parent in grads:
                        grads[parent] = grads[parent] + parent_grad
                        owned.add(parent)
                    else:
                        grads[parent] = parent_grad
                pending[parent] -= 1
                if pending[parent] == 0:
                    ready.append(parent)
            if not retain_graph:
                node.backward_fn = _graph_freed  # drops the closure and the arrays it saved


class IndexedGrad:
    """A gradient that is zero except at `index`, as getitem's backward returns it.

    The engine adds it into one buffer per input, so the many slices an RNN takes of a tensor
    (one per time step) cost their own size, not a full-size array of zeros each.
    """

    __slots__ = ("index", "values", "basic")

    def __init__(self, index, values, basic):
        self.index, self.values, self.basic = index, values, basic

    def add_into(self, buffer):
        """buffer[index] += values; repeated integer indices add up (np.add.at)."""
        if self.basic:
            buffer[self.index] += self.values
        else:
            np.add.at(buffer, self.index, self.values)


def sum_to_shape(grad, shape):
    """Sum a broadcast gradient back down to `shape` (the inverse of numpy broadcasting)."""
    leading = grad.ndim - len(shape)
    axes = tuple(range(leading)) + tuple(
        leading + i for i, size in enumerate(shape) if size == 1 and grad.shape[leading + i] != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape) if axes else grad.reshape(shape)


def as_array(data, dtype=None):
    """Convert data to a numeric numpy array: Python data becomes float32 unless `dtype` says
    otherwise; numpy floating arrays keep their dtype; integer and boolean arrays become float32."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"tensor: {dtype!r} is not a dtype") from None
        if dtype.kind not in "biuf":
            raise TypeError(f"tensor: dtype {dtype} is not numeric (use a float or integer dtype)")
        return np.asarray(data, dtype=dtype)
    array = np.asarray(data)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"tensor: data of dtype {array.dtype} is not numeric: {str(data)[:60]}")
    keep = isinstance(data, (np.ndarray, np.generic)) and array.dtype.kind == "f"
    return array if keep else array.astype(np.float32)


def _value(x):
    return x.data if isinstance(x, Tensor) else x


def tensor(data, requires_grad=False, dtype=None):
    """Make a leaf tensor from Python data or a numpy array.

    Python numbers and lists become float32; numpy float arrays keep their dtype (float64 stays
    float64). Pass `dtype` to choose one explicitly.

    Example:
        >>> x = tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        array([2., 4.], dtype=float32)
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def make_node(data, inputs, backward_fn, op):
    """Wrap an op's output array as a tensor, recording the graph edge only when needed."""
    out = Tensor.__new__(Tensor)
    out.data = data
    out.grad = None
    out.op = op
    out.scope = _scope
    out.retains_grad = False
    if _grad_enabled and any(t.requires_grad for t in inputs):
        out.requires_grad = True
        out.parents = inputs
        out.backward_fn = backward_fn
    else:
        out.requires_grad = False
        out.parents = ()
        out.backward_fn = None
    return out


@contextlib.contextmanager
def no_grad():
    """Inside this block ops record no graph (for evaluation and parameter updates).

    Works as a decorator too: `@tinyseq.no_grad()`.
    """
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled():
    """Whether ops currently record the graph."""
    return _grad_enabled


@contextlib.contextmanager
def name_scope(name):
    """Tag every op created inside the block with `name` (nestable), for drawing graphs.

    Example:
        >>> with name_scope("forget_gate"):
        ...     gate = tensor([0.5], requires_grad=True) * 2
        >>> gate.scope
        ('forget_gate',)
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name_scope: the name must be a non-empty string, got {name!r}")
    global _scope
    previous, _scope = _scope, _scope + (name,)
    try:
        yield
    finally:
        _scope = previous
