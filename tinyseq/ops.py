"""Primitive ops: each forward on numpy arrays, with its backward written right beside it.

An op is a plain function decorated with `@primitive`. It receives the input tensors' numpy
arrays (plus any non-tensor arguments) and returns its output array and a `backward(grad)`
closure that returns one gradient per input tensor. The decorator does the rest once for all
ops: turning Python numbers into constants of the right dtype, refusing mixed dtypes, naming
the op in shape errors, and recording the graph node. A backward may return a gradient in
the broadcast output shape: the engine (`tensor.backward`) sums it down to the input's shape.

Composite functions built from these (softmax, logsumexp, ...) live in `tinyseq.functional`.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np

from .tensor import ShapeError, Tensor, make_node, numeric_dtype

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "tanh", "sigmoid",
           "relu", "abs", "maximum", "minimum", "clip", "where", "matmul", "sum", "mean", "max",
           "reshape", "transpose", "getitem", "concat", "stack", "split", "embedding", "astype"]


def _lift(inputs, op):
    """Turn non-tensor inputs into constants of the tensor inputs' dtype; refuse mixed dtypes."""
    reference = next((x for x in inputs if isinstance(x, Tensor)), None)
    dtype = np.float32 if reference is None else reference.data.dtype
    tensors = tuple(x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=dtype)) for x in inputs)
    for t in tensors:
        if t.data.dtype != dtype:
            raise TypeError(f"{op}: inputs have different dtypes {', '.join(str(t.dtype) for t in tensors)}; "
                            f"convert one explicitly with .astype(...)")
    return tensors


def primitive(arity=1):
    """Make an op from `forward(*arrays, *args, **kwargs) -> (output, backward)`.

    The first `arity` positional arguments are tensors (arity=None: the first argument is a
    sequence of tensors, as for concat); the rest are passed through unchanged.
    """
    def decorate(forward):
        name = forward.__name__

        @functools.wraps(forward)
        def op(*args, **kwargs):
            if arity is None:
                inputs, rest = _lift(tuple(args[0]), name), args[1:]
                arrays = ([t.data for t in inputs],)
            else:
                inputs, rest = args[:arity], args[arity:]
                # A plain loop, not any(<generator>): this runs for every op and costs more than
                # many an op's arithmetic.
                for x in inputs:
                    if x.__class__ is not Tensor:
                        inputs = _lift(inputs, name)
                        break
                else:
                    if arity == 2 and inputs[0].data.dtype != inputs[1].data.dtype:
                        inputs = _lift(inputs, name)  # raises the dtype error
                arrays = [t.data for t in inputs]
            try:
                out, backward = forward(*arrays, *rest, **kwargs)
            except ShapeError:
                raise
            except ValueError as error:  # numpy's broadcasting / reshape errors
                shapes = " and ".join(str(t.shape) for t in inputs)
                raise ShapeError(f"{name}: cannot apply to shapes {shapes}: {error}") from None
            return make_node(out, inputs, backward, name)
        return op
    return decorate


# ---- element-wise arithmetic (broadcasting; the engine reduces the gradients) -------------
@primitive(2)
def add(a, b):
    """a + b, element-wise with broadcasting."""
    return a + b, lambda g: (g, g)


@primitive(2)
def sub(a, b):
    """a - b, element-wise with broadcasting."""
    return a - b, lambda g: (g, -g)


@primitive(2)
def mul(a, b):
    """a * b, element-wise with broadcasting."""
    return a * b, lambda g: (g * b, g * a)


@primitive(2)
def div(a, b):
    """a / b, element-wise with broadcasting."""
    return a / b, lambda g: (g / b, -g * a / (b * b))


@primitive(1)
def neg(a):
    """-a."""
    return -a, lambda g: (-g,)


@primitive(1)
def pow(a, exponent):
    """a ** exponent for a Python number `exponent` (tensor ** tensor: use exp(b * log(a)))."""
    if not isinstance(exponent, numbers.Real) or isinstance(exponent, (bool, np.bool_)):
        raise TypeError(f"pow: the exponent must be a Python number, got {exponent!r}")
    if exponent == 0:  # the derivative of a**0 is 0 everywhere, also at a = 0 (not 0 * inf)
        return np.ones_like(a), lambda g: (np.zeros_like(a),)
    return a ** exponent, lambda g: (g * exponent * a ** (exponent - 1),)


# ---- element-wise functions -----------------------------------------------------------
@primitive(1)
def exp(a):
    """e ** a."""
    out = np.exp(a)
    return out, lambda g: (g * out,)


@primitive(1)
def log(a):
    """Natural logarithm."""
    return np.log(a), lambda g: (g / a,)


@primitive(1)
def sqrt(a):
    """Square root."""
    out = np.sqrt(a)
    return out, lambda g: (g * 0.5 / out,)


@primitive(1)
def tanh(a):
    """Hyperbolic tangent; its derivative is 1 - tanh²."""
    out = np.tanh(a)
    return out, lambda g: (g * (1 - out * out),)


@primitive(1)
def sigmoid(a):
    """Logistic function 1 / (1 + e^-a), for any a.

    Where e^-a overflows to infinity (a below about -88 in float32) the result is 1 / inf = 0,
    the right limit, so the overflow is not reported. Tiny results keep their relative
    precision: σ(-50) is 1.9e-22, not 0.
    """
    out = np.negative(a, out=np.empty_like(a))  # an array also for 0-d a, so the rest can work in place
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)
    return out, lambda g: (g * out * (1 - out),)


@primitive(1)
def relu(a):
    """max(a, 0)."""
    return np.maximum(a, 0), lambda g: (g * (a > 0),)


@primitive(1)
def abs(a):
    """|a| (gradient 0 at 0)."""
    return np.abs(a), lambda g: (g * np.sign(a),)


@primitive(2)
def maximum(a, b):
    """Element-wise maximum; at ties the gradient goes to `a`."""
    a_wins = a >= b
    return np.where(a_wins, a, b), lambda g: (g * a_wins, g * ~a_wins)


@primitive(2)
def minimum(a, b):
    """Element-wise minimum; at ties the gradient goes to `a`."""
    a_wins = a <= b
    return np.where(a_wins, a, b), lambda g: (g * a_wins, g * ~a_wins)


@primitive(1)
def clip(a, low=None, high=None):
    """Limit values to [low, high]; the gradient is zero where a value was clipped."""
    inside = np.ones(a.shape, dtype=bool)
    if low is not None:
        inside &= a >= low
    if high is not None:
        inside &= a <= high
    return np.clip(a, low, high), lambda g: (g * inside,)


@primitive(2)
def _where(a, b, condition):
    condition = np.asarray(condition, dtype=bool)
    return np.where(condition, a, b), lambda g: (g * condition, g * ~condition)


def where(condition, x, y):
    """Pick x where `condition` (a boolean array, not differentiated) holds, else y."""
    return _where(x, y, condition=np.asarray(condition))


@primitive(1)
def astype(a, dtype):
    """Convert to another numeric dtype. To a floating dtype the gradient is converted back;
    an integer or boolean result has no gradient (it does not require grad)."""
    return a.astype(numeric_dtype(dtype, "astype")), lambda g: (g.astype(a.dtype),)


# ---- matrix product ------------------------------------------------------------------
@primitive(2)
def matmul(a, b):
    """Matrix product as numpy's: (..., n, k) @ (..., k, m), batch dims broadcast; a 1-D
    operand is a row (on the left) or a column (on the right) vector, dropped from the result."""
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}")
    # Work on matrices; remember which vector axes to drop again.
    a_matrix = a[None, :] if a.ndim == 1 else a
    b_matrix = b[:, None] if b.ndim == 1 else b
    if a_matrix.shape[-1] != b_matrix.shape[-2]:
        raise ShapeError(f"matmul: cannot multiply shapes {a.shape} and {b.shape}: the inner "
                         f"dimensions {a_matrix.shape[-1]} and {b_matrix.shape[-2]} differ")

    def backward(g):
        g = g[..., None] if b.ndim == 1 else g
        g = g[..., None, :] if a.ndim == 1 else g
        grad_a = g @ b_matrix.swapaxes(-1, -2)
        grad_b = a_matrix.swapaxes(-1, -2) @ g
        return (grad_a[..., 0, :] if a.ndim == 1 else grad_a), (grad_b[..., 0] if b.ndim == 1 else grad_b)
    return a @ b, backward


# ---- axes ----------------------------------------------------------------------------
def checked_axis(axis, shape, op, new_axis=False):
    """`axis` (an int, or a tuple of ints for the reductions) with negative axes counted from
    the end, after checking each is an integer axis of `shape`, named once.

    Args:
        new_axis: the axis is one the output adds (stack), so it may also be `len(shape)`.

    Raises:
        TypeError: for an axis that is not an integer (a float, a bool, a list, a string).
        ShapeError: for an axis out of range or named twice; the message names `op` and `shape`.
    """
    ndim = len(shape) + new_axis
    axes = axis if isinstance(axis, tuple) else (axis,)
    for one in axes:
        if not isinstance(one, (int, np.integer)) or isinstance(one, (bool, np.bool_)):
            raise TypeError(f"{op}: axis must be an integer or a tuple of integers, got {axis!r}")
        if not -ndim <= one < ndim:
            raise ShapeError(f"{op}: axis {one} is out of range for shape {tuple(shape)} "
                             f"(valid axes: {-ndim}..{ndim - 1})")
    normalised = tuple(int(one) % ndim for one in axes)
    if len(set(normalised)) != len(normalised):
        raise ShapeError(f"{op}: axis {axis!r} names an axis twice (shape {tuple(shape)})")
    return normalised if isinstance(axis, tuple) else normalised[0]


# ---- reductions ----------------------------------------------------------------------
def _unreduce(g, shape, axis, keepdims):
    """Broadcast a reduction's gradient back to the input's shape."""
    if not keepdims and axis is not None:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, shape)


@primitive(1)
def sum(a, axis=None, keepdims=False):
    """Sum over `axis` (an int, a tuple, or None for all)."""
    axis = None if axis is None else checked_axis(axis, a.shape, "sum")
    return a.sum(axis=axis, keepdims=keepdims), lambda g: (_unreduce(g, a.shape, axis, keepdims),)


@primitive(1)
def mean(a, axis=None, keepdims=False):
    """Mean over `axis` (an int, a tuple, or None for all)."""
    axis = None if axis is None else checked_axis(axis, a.shape, "mean")
    out = a.mean(axis=axis, keepdims=keepdims)
    count = a.size // out.size if out.size else 1
    return out, lambda g: (_unreduce(g / count, a.shape, axis, keepdims),)


@primitive(1)
def max(a, axis=None, keepdims=False):
    """Maximum over `axis`; tied maxima share the gradient equally."""
    axis = None if axis is None else checked_axis(axis, a.shape, "max")
    top = a.max(axis=axis, keepdims=True)
    winners = a == top
    out = top if keepdims else (top.reshape(()) if axis is None else np.squeeze(top, axis))

    def backward(g):
        share = winners / winners.sum(axis=axis, keepdims=True)
        return (_unreduce(g, a.shape, axis, keepdims) * share,)
    return out, backward


# ---- shape ---------------------------------------------------------------------------
@primitive(1)
def reshape(a, shape):
    """Same values, new shape (one dimension may be -1)."""
    sizes = shape if isinstance(shape, (tuple, list)) else (shape,)
    if any(not isinstance(size, (int, np.integer)) or isinstance(size, (bool, np.bool_)) or size < -1
           for size in sizes):
        raise TypeError(f"reshape: the shape must be whole numbers ≥ 0 (one may be -1), got {shape!r}")
    return a.reshape(shape), lambda g: (g.reshape(a.shape),)


@primitive(1)
def transpose(a, axes=None):
    """Permute the axes (reverse them when `axes` is None); negative axes count from the end."""
    if axes is not None:
        axes = tuple(axes)
        if sorted(axis % a.ndim if -a.ndim <= axis < a.ndim else axis for axis in axes) != list(range(a.ndim)):
            raise ShapeError(f"transpose: axes {axes} are not a permutation of the {a.ndim} axes "
                             f"of shape {a.shape}")
        axes = tuple(axis % a.ndim for axis in axes)
    inverse = None if axes is None else tuple(np.argsort(axes))
    return a.transpose(axes), lambda g: (g.transpose(inverse),)


class IndexedGrad:
    """A gradient that is zero except at `index`: what getitem's backward returns.

    It follows the engine's protocol for sparse gradients, `add_into(buffer)`: the engine adds
    it into one buffer per input, so the many slices an RNN takes of a tensor (one per time
    step) cost their own size, not a full-size array of zeros each.
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


def _is_basic(index):
    """Whether an index is made of ints, slices, None and Ellipsis only (no repeats possible)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


@primitive(1)
def getitem(a, index):
    """a[index] with numpy's indexing; repeated integer indices accumulate their gradients.

    The backward returns an IndexedGrad: the engine adds it into one buffer for `a`.
    """
    try:
        out = a[index]
    except IndexError as error:
        raise IndexError(f"getitem: {error} (tensor shape {a.shape}, index {index!r})") from None

    basic = _is_basic(index)
    return out, lambda g: (IndexedGrad(index, g, basic),)


@primitive(None)
def _concat(arrays, axis=0):
    _check_same_shapes(arrays, "concat", except_axis=axis)
    ends = np.cumsum([x.shape[axis] for x in arrays])[:-1]
    return np.concatenate(arrays, axis=axis), lambda g: tuple(np.split(g, ends, axis=axis))


@primitive(None)
def _stack(arrays, axis=0):
    _check_same_shapes(arrays, "stack")
    out = np.stack(arrays, axis=axis)
    return out, lambda g: tuple(np.moveaxis(g, axis, 0))


def _check_same_shapes(arrays, op, except_axis=None):
    shapes = [list(x.shape) for x in arrays]
    if except_axis is not None:
        for shape in shapes:
            shape[checked_axis(except_axis, shape, op)] = None
    if any(shape != shapes[0] for shape in shapes):
        raise ShapeError(f"{op}: shapes {', '.join(str(x.shape) for x in arrays)} do not match"
                         + (f" outside axis {except_axis}" if except_axis is not None else ""))


def concat(tensors, axis=0):
    """Join tensors along an existing axis."""
    tensors = _some_tensors(tensors, "concat")
    return _concat(tensors, checked_axis(axis, tensors[0].shape, "concat"))


def stack(tensors, axis=0):
    """Join same-shape tensors along a new axis."""
    tensors = _some_tensors(tensors, "stack")
    return _stack(tensors, checked_axis(axis, tensors[0].shape, "stack", new_axis=True))


def _some_tensors(tensors, op):
    """`tensors` as a non-empty list."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor, got none")
    return tensors


def split(x, sections, axis=-1, names=None):
    """Split into `sections` equal parts (an int) or at the given indices (a list), as np.split.

    Built from getitem, so each part's gradient flows back into its slice of `x`. `names`, one
    per part, label the parts in drawings: `z_i, z_f = split(z, 2, names=("z_i", "z_f"))`.
    """
    given_axis, axis = axis, checked_axis(axis, x.shape, "split")
    length = x.shape[axis]
    if isinstance(sections, (int, np.integer)) and not isinstance(sections, (bool, np.bool_)):
        if sections <= 0 or length % sections:
            raise ShapeError(f"split: cannot split axis {given_axis} of size {length} into {sections} equal parts")
        bounds = list(range(0, length + 1, length // sections))
    else:
        bounds = [0, *_split_points(sections, length), length]
    if names is not None and len(names) != len(bounds) - 1:
        raise ValueError(f"split: {len(names)} names given for {len(bounds) - 1} parts")
    prefix = (slice(None),) * axis
    parts = [getitem(x, prefix + (slice(start, stop),)) for start, stop in zip(bounds, bounds[1:])]
    for part, name in zip(parts, names or ()):
        part.name = name
    return parts


def _split_points(sections, length):
    """`sections` as a list of increasing integer split points within [0, length]."""
    if isinstance(sections, (str, bool, np.bool_)) or not hasattr(sections, "__iter__"):
        raise TypeError(f"split: sections must be a number of equal parts or a list of split points, got {sections!r}")
    points = list(sections)
    whole = all(isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_)) for p in points)
    if not whole or any(not 0 <= p <= length for p in points) or points != sorted(points):
        raise ShapeError(f"split: the split points {points} must be increasing integers within 0..{length} "
                         f"(the size of the axis)")
    return points


# ---- embedding lookup ------------------------------------------------------------------
@primitive(1)
def embedding(weight, ids):
    """Gather rows: `weight[ids]` for an integer array `ids` of any shape.

    Every id must lie in [0, vocabulary size); anything else raises IndexError naming the id,
    its position and the vocabulary size (nothing wraps around, unlike numpy's negatives).
    The backward sums the gradients of repeated ids with one sort and `np.add.reduceat`,
    rather than `np.add.at` (`benchmarks/README.md` compares the two).
    """
    vocabulary = weight.shape[0]
    ids = checked_ids(ids, vocabulary, "embedding", "id", f"the vocabulary of size {vocabulary}")

    def backward(g):
        return (scatter_add_rows(g.reshape(-1, weight.shape[1]), ids.reshape(-1), vocabulary),)
    return weight[ids], backward


def checked_ids(values, limit, op, noun, collection):
    """`values` as an int64 array, after checking each is a whole number in [0, limit).

    Raises:
        TypeError: for values that are not numbers, booleans, or numbers with a fraction.
        IndexError: naming the op, the first bad value as given, its position and the valid range.
    """
    values = np.asarray(values)
    if values.dtype.kind == "b":
        raise TypeError(f"{op}: {noun}s must be integers, got booleans (True/False are not {noun}s)")
    if values.dtype.kind == "O":  # Python ints too large for any numpy integer, or mixed data
        for position in np.ndindex(values.shape):
            value = values[position]
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"{op}: {noun}s must be integers, got {value!r} at position {position}")
            if not 0 <= value < limit:
                raise IndexError(f"{op}: {noun} {value} at position {position} is outside {collection} "
                                 f"(valid {noun}s: 0..{limit - 1})")
        values = values.astype(np.int64)
    if values.dtype.kind not in "iuf":
        raise TypeError(f"{op}: {noun}s must be integers, got {values.dtype} values")
    if values.dtype.kind == "f" and values.size and not np.array_equal(values, np.round(values)):
        position = tuple(int(i) for i in np.argwhere(values != np.round(values))[0])
        raise TypeError(f"{op}: {noun}s must be whole numbers, got {values[position].item()} at "
                        f"position {position}")
    # Compare in the values' own dtype, before converting: 2**70 or inf must not wrap around.
    bad = (values < 0) | (values >= limit)
    if bad.any():
        position = tuple(int(i) for i in np.argwhere(bad)[0])
        value = values[position].item()
        shown = int(value) if np.isfinite(value) and abs(value) < 2 ** 63 else value  # 1e300, not its 301 digits
        raise IndexError(f"{op}: {noun} {shown} at position {position} is outside "
                         f"{collection} (valid {noun}s: 0..{limit - 1})")
    return values.astype(np.int64)


def scatter_add_rows(rows, ids, num_rows):
    """Return an array of `num_rows` rows where row r is the sum of `rows[i]` over ids[i] == r."""
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    out = np.zeros((num_rows, rows.shape[1]), dtype=rows.dtype)
    if len(ids):
        out[sorted_ids[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


# ---- the same ops as Tensor operators and methods ----------------------------------------
def _reshape_method(self, *shape):
    return reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)


def _transpose_method(self, *axes):
    return transpose(self, (axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes) or None)


def _pow_method(self, exponent):
    if isinstance(exponent, Tensor):
        raise TypeError("pow: the exponent must be a Python number; for tensor exponents write exp(b * log(a))")
    return pow(self, exponent)


for _name, _method in {
    "__add__": add, "__radd__": lambda self, other: add(other, self),
    "__sub__": sub, "__rsub__": lambda self, other: sub(other, self),
    "__mul__": mul, "__rmul__": lambda self, other: mul(other, self),
    "__truediv__": div, "__rtruediv__": lambda self, other: div(other, self),
    "__matmul__": matmul, "__rmatmul__": lambda self, other: matmul(other, self),
    "__pow__": _pow_method, "__neg__": neg, "__getitem__": getitem,
    "exp": exp, "log": log, "sqrt": sqrt, "tanh": tanh, "sigmoid": sigmoid, "relu": relu,
    "abs": abs, "clip": clip, "matmul": matmul, "sum": sum, "mean": mean, "max": max,
    "maximum": maximum, "minimum": minimum, "pow": _pow_method, "split": split,
    "reshape": _reshape_method, "transpose": _transpose_method, "astype": astype,
    "T": property(lambda self: transpose(self)),
}.items():
    setattr(Tensor, _name, _method)
