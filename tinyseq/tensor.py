"""The autograd core: a `Tensor` that remembers how it was made, and `backward()`.

A tensor made by an op keeps its inputs (`parents`) and a small function (`backward_fn`) that
turns the gradient of its output into gradients for each input. `backward()` is three steps:

1. walk the graph into reverse topological order (`reverse_topological_order`), so each node
   comes after every node it feeds;
2. for each node in that order, call its `backward_fn` and add what it returns into its
   parents' sums (`GradientSums`, which also reduces a gradient to its input's shape when the
   forward pass broadcast that input, once, for every op);
3. free the node's saved arrays as soon as its gradient has been passed on.

The ops themselves (forward next to backward) live in `tinyseq.ops`.
"""

from __future__ import annotations

import contextlib

import numpy as np

from . import checks

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
        name: an optional label for drawings, e.g. "z_f" for the forget gate's block of z.
    """

    __slots__ = ("data", "grad", "requires_grad", "parents", "backward_fn", "op", "scope",
                 "retains_grad", "name", "__weakref__")
    __array_ufunc__ = None  # numpy defers to our reflected operators: array * tensor -> tensor
    __hash__ = object.__hash__  # __eq__ compares values; identity stays the hash

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = as_array(data, dtype)
        requires_grad = checks.boolean(requires_grad, "requires_grad", "tensor")
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"tensor: requires_grad needs a floating-point dtype, got {self.data.dtype}")
        self.grad = None
        self.requires_grad = requires_grad
        self.parents = ()
        self.backward_fn = None
        self.op = "leaf"
        self.scope = _scope
        self.retains_grad = False
        self.name = None

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
        grads = GradientSums(self, self._seed_gradient(grad))
        add_to_sum = grads.add
        for node in reverse_topological_order(self):
            grad = grads.pop(node)
            if node.backward_fn is None or node.retains_grad:
                node.grad = grad.copy() if node.grad is None else node.grad + grad
            if node.backward_fn is None:
                continue
            for parent, parent_grad in zip(node.parents, node.backward_fn(grad)):
                if parent.requires_grad:
                    add_to_sum(parent, parent_grad, node.op)
            if not retain_graph:
                node.backward_fn = _graph_freed  # drops the closure and the arrays it saved

    def _seed_gradient(self, grad):
        """The gradient backward starts from: `grad`, checked against this tensor, or 1."""
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad; no input that "
                               "led to it has requires_grad=True")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: a gradient can be implied only for a one-element "
                                   f"tensor, but this one has shape {self.shape}; pass grad= "
                                   f"of that shape or reduce it first (e.g. .sum())")
            return np.ones_like(self.data)
        grad = np.asarray(_value(grad), dtype=self.data.dtype)
        if grad.shape != self.shape:
            raise ShapeError(f"backward: grad has shape {grad.shape} but the tensor has shape {self.shape}")
        return grad


def reverse_topological_order(root):
    """The nodes that lead to `root` and require grad, each one before the nodes it was made from.

    A depth-first walk with an explicit stack (an unrolled RNN makes graphs far deeper than
    Python's recursion limit): a node is listed after all its parents, then the list is reversed.
    """
    order, seen = [], {root}
    stack = [(root, iter(root.parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent.requires_grad and parent not in seen:
                seen.add(parent)
                stack.append((parent, iter(parent.parents)))
                break
        else:
            stack.pop()
            if node.backward_fn is _graph_freed:
                _graph_freed(None)  # refuse before any gradient has been accumulated
            order.append(node)
    return reversed(order)


class GradientSums:
    """The gradients on their way back: one per node, summed over the ops that node feeds.

    A gradient is a numpy array or a sparse gradient: any object with `add_into(buffer)`, as
    getitem's backward returns. A node's first array is kept as it is; when a second arrives,
    the sum goes into a buffer this class allocated, and later ones are added into it in place
    (an op's gradient array may be shared, e.g. by `add`, so it is never written into).
    """

    __slots__ = ("grads", "owned")

    def __init__(self, root, grad):
        self.grads, self.owned = {root: grad}, set()

    def add(self, node, grad, op):
        """Add `grad`, which op `op` passed back, to `node`'s sum."""
        if grad.__class__ is not np.ndarray and hasattr(grad, "add_into"):
            grad.add_into(self._own(node))
            return
        if grad.shape != node.data.shape:
            grad = sum_to_shape(grad, node.data.shape, op)
        if node in self.owned:
            self.grads[node] += grad
        elif node in self.grads:
            self.grads[node] = self.grads[node] + grad
            self.owned.add(node)
        else:
            self.grads[node] = grad

    def pop(self, node):
        """Take out `node`'s finished gradient (every op it feeds has delivered its part)."""
        self.owned.discard(node)
        return self.grads.pop(node)

    def _own(self, node):
        if node not in self.owned:
            current = self.grads.get(node)
            self.grads[node] = np.zeros_like(node.data) if current is None else current.copy()
            self.owned.add(node)
        return self.grads[node]


def sum_to_shape(grad, shape, op="backward"):
    """Sum a broadcast gradient back down to `shape` (the inverse of numpy broadcasting).

    A gradient that is not a broadcast of `shape` is a bug in the backward of `op`: it raises
    ShapeError naming the op, and is never reshaped to fit.
    """
    leading = grad.ndim - len(shape)
    if leading < 0 or any(size not in (1, grad_size) for size, grad_size in zip(shape, grad.shape[leading:])):
        raise ShapeError(f"{op}: its backward returned a gradient of shape {grad.shape}, which does "
                         f"not reduce to its input's shape {tuple(shape)}")
    axes = tuple(range(leading)) + tuple(
        leading + i for i, size in enumerate(shape) if size == 1 and grad.shape[leading + i] != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape) if axes else grad


def as_array(data, dtype=None):
    """Convert data to a numeric numpy array: Python data becomes float32 unless `dtype` says
    otherwise; numpy floating arrays keep their dtype; integer and boolean arrays become float32."""
    if isinstance(data, Tensor):
        data = data.data
    try:
        if dtype is not None:
            return np.asarray(data, dtype=numeric_dtype(dtype, "tensor"))
        array = np.asarray(data)
    except ValueError as error:
        if "inhomogeneous" in str(error):
            raise ValueError(f"tensor: the data is ragged (nested lists of different lengths), so it is "
                             f"not an array: {str(data)[:60]}") from None
        raise TypeError(f"tensor: the data is not numeric ({error}): {str(data)[:60]}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"tensor: data of dtype {array.dtype} is not numeric: {str(data)[:60]}")
    keep = isinstance(data, (np.ndarray, np.generic)) and array.dtype.kind == "f"
    return array if keep else array.astype(np.float32)


def numeric_dtype(dtype, op):
    """`dtype` as a numpy dtype, after checking it is one and is numeric (bool, int or float).

    Raises:
        TypeError: naming `op` and the dtype given.
    """
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: {dtype!r} is not a dtype") from None
    if dtype.kind not in "biuf":
        raise TypeError(f"{op}: dtype {dtype} is not numeric (use a float or integer dtype)")
    return dtype


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
    """Wrap an op's output array as a tensor, recording the graph edge only when needed:
    gradients are on, an input requires grad, and the output is floating point (an integer
    result, such as `astype(int32)`, has no gradient)."""
    out = Tensor.__new__(Tensor)
    out.data = data
    out.grad = None
    out.op = op
    out.scope = _scope
    out.retains_grad = False
    out.name = None
    out.requires_grad = False
    out.parents = ()
    out.backward_fn = None
    if _grad_enabled and data.dtype.kind == "f":
        for tensor_in in inputs:  # a plain loop: any(<generator>) costs more than the op itself
            if tensor_in.requires_grad:
                out.requires_grad = True
                out.parents = inputs
                out.backward_fn = backward_fn
                break
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


class name_scope:
    """Tag every op created inside the block with `name` (nestable), for drawing graphs.

    Example:
        >>> with name_scope("forget_gate"):
        ...     gate = tensor([0.5], requires_grad=True) * 2
        >>> gate.scope
        ('forget_gate',)
    """

    # A class rather than a generator-based context manager: an LSTM step enters seven scopes,
    # and this costs a fraction of the generator's bookkeeping.
    __slots__ = ("name", "previous")

    def __init__(self, name):
        if not isinstance(name, str) or not name:
            raise ValueError(f"name_scope: the name must be a non-empty string, got {name!r}")
        self.name = name

    def __enter__(self):
        global _scope
        self.previous, _scope = _scope, _scope + (self.name,)
        return self

    def __exit__(self, *exc_info):
        global _scope
        _scope = self.previous
