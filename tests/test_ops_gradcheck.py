"""Every primitive op (and the composites) against central differences in float64, rtol 1e-6.

Hypothesis chooses shapes (broadcasting on each argument) and a seed; the values are drawn
from each op's domain, kept away from kinks (relu at 0, ties in max) where no derivative exists.
"""

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import tinyseq as ts

seeds = st.integers(0, 2**32 - 1)
shapes = array_shapes(min_dims=0, max_dims=3, max_side=4)


def away_from_zero(rng, shape):
    """Values in ±[0.2, 2]: no op used here has a kink or a pole there."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.2, 2.0, size=shape)


def positive(rng, shape):
    return rng.uniform(0.2, 3.0, size=shape)


UNARY = {
    "neg": (ts.neg, away_from_zero),
    "exp": (ts.exp, away_from_zero),
    "log": (ts.log, positive),
    "sqrt": (ts.sqrt, positive),
    "tanh": (ts.tanh, away_from_zero),
    "sigmoid": (ts.sigmoid, away_from_zero),
    "relu": (ts.relu, away_from_zero),
    "abs": (ts.abs, away_from_zero),
    "pow 3": (lambda x: x ** 3, away_from_zero),
    "pow -1.5": (lambda x: x ** -1.5, positive),
    "clip": (lambda x: ts.clip(x, -1.0, 1.1), away_from_zero),
    "astype": (lambda x: ts.astype(x, np.float64), away_from_zero),
}

BINARY = {
    "add": (ts.add, away_from_zero, away_from_zero),
    "sub": (ts.sub, away_from_zero, away_from_zero),
    "mul": (ts.mul, away_from_zero, away_from_zero),
    "div": (ts.div, away_from_zero, away_from_zero),
    "maximum": (ts.maximum, away_from_zero, positive),
    "minimum": (ts.minimum, away_from_zero, positive),
}


@pytest.mark.parametrize("name", UNARY)
@given(shape=shapes, seed=seeds)
def test_unary_op_gradient(name, shape, seed):
    op, domain = UNARY[name]
    ts.gradcheck(op, domain(np.random.default_rng(seed), shape))


@pytest.mark.parametrize("name", BINARY)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seed=seeds)
def test_binary_op_gradient_with_broadcasting(name, shapes, seed):
    op, domain_a, domain_b = BINARY[name]
    rng = np.random.default_rng(seed)
    a, b = domain_a(rng, shapes.input_shapes[0]), domain_b(rng, shapes.input_shapes[1])
    ts.gradcheck(op, a, b)


@given(shapes=mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3), seed=seeds)
def test_where_gradient_with_broadcasting(shapes, seed):
    rng = np.random.default_rng(seed)
    condition_shape, a_shape, b_shape = shapes.input_shapes
    condition = rng.random(condition_shape) > 0.5
    ts.gradcheck(lambda a, b: ts.where(condition, a, b),
                 away_from_zero(rng, a_shape), away_from_zero(rng, b_shape))


@given(batch=mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3),
       n=st.integers(1, 4), k=st.integers(1, 4), m=st.integers(1, 4), seed=seeds)
def test_matmul_gradient_2d_and_batched(batch, n, k, m, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(batch.input_shapes[0] + (n, k))
    b = rng.standard_normal(batch.input_shapes[1] + (k, m))
    ts.gradcheck(ts.matmul, a, b)
    row, column = rng.standard_normal(k), rng.standard_normal(k)
    ts.gradcheck(ts.matmul, row, b)       # a 1-D operand on the left is a row vector
    ts.gradcheck(ts.matmul, a, column)    # on the right, a column vector
    ts.gradcheck(ts.matmul, row, column)


@pytest.mark.parametrize("reduce", [ts.sum, ts.mean, ts.max])
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=4), keepdims=st.booleans(),
       data=st.data(), seed=seeds)
def test_reduction_gradient(reduce, shape, keepdims, data, seed):
    axis = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1)
                     | st.just(tuple(range(len(shape)))[::2]))
    x = np.random.default_rng(seed).permutation(np.arange(np.prod(shape))).reshape(shape) * 0.1
    ts.gradcheck(lambda t: reduce(t, axis=axis, keepdims=keepdims), x)  # distinct values: no ties


@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=4), seed=seeds)
def test_reshape_and_transpose_gradient(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    axes = tuple(rng.permutation(len(shape)))
    ts.gradcheck(lambda t: t.reshape(-1), x)
    ts.gradcheck(lambda t: t.transpose(axes), x)
    ts.gradcheck(lambda t: t.T, x)


@given(seed=seeds)
def test_getitem_gradient_slices_and_repeated_integer_indices(seed):
    x = np.random.default_rng(seed).standard_normal((5, 4))
    ts.gradcheck(lambda t: t[1:4, ::2], x)
    ts.gradcheck(lambda t: t[..., -1], x)
    ts.gradcheck(lambda t: t[np.array([0, 2, 2, 4, 2])], x)
    ts.gradcheck(lambda t: t[np.array([1, 1]), np.array([3, 3])], x)


def test_getitem_repeated_indices_accumulate_exactly():
    x = ts.tensor(np.zeros(3), requires_grad=True)
    x[np.array([0, 2, 2, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad, [1, 0, 3])


@given(seed=seeds, axis=st.integers(-2, 1))
def test_concat_stack_split_gradient(seed, axis):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    ts.gradcheck(lambda p, q: ts.concat([p, q, p], axis=axis), a, b)
    ts.gradcheck(lambda p, q: ts.stack([p, q], axis=axis), a, b)
    c = rng.standard_normal((4, 6))
    ts.gradcheck(lambda t: ts.split(t, 2, axis=axis)[1] * ts.split(t, 2, axis=axis)[0], c)


@given(seed=seeds)
def test_embedding_gradient_with_duplicate_ids(seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 5, size=(3, 4))
    ts.gradcheck(lambda w: ts.embedding(w, ids), rng.standard_normal((5, 2)))


def test_embedding_backward_sums_duplicate_rows_exactly():
    weight = ts.tensor(np.zeros((4, 2)), requires_grad=True)
    ts.embedding(weight, np.array([[3, 1, 3], [3, 0, 1]])).sum().backward()
    np.testing.assert_array_equal(weight.grad, [[1, 1], [2, 2], [0, 0], [3, 3]])


@pytest.mark.parametrize("composite", [ts.softmax, ts.log_softmax, ts.logsumexp,
                                       lambda x: ts.logsumexp(x, axis=None)])
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=4), seed=seeds)
def test_composite_gradient(composite, shape, seed):
    ts.gradcheck(composite, np.random.default_rng(seed).standard_normal(shape) * 3)


def test_gradcheck_reports_the_worst_element():
    bad_square = ts.ops.primitive(1)(lambda a: (a * a, lambda g: (g * 3 * a,)))  # wrong: 2a
    with pytest.raises(ts.GradcheckError, match=r"worst: input 0 index \(1,\): analytic 6, numeric 4"):
        ts.gradcheck(lambda x: bad_square(x).sum(), [1.0, 2.0])
    result = ts.gradcheck(lambda x: bad_square(x).sum(), [1.0, 2.0], raise_on_failure=False)
    assert not result and result.index == (1,) and result.analytic == 6.0
    assert abs(result.numeric - 4.0) < 1e-6


# ---- every op that takes axes, with negative and permuted axes ---------------------------
def signed_axes(data, ndim, permutation):
    """Axes as a user may write them: each one either counted from the start or from the end."""
    return tuple(axis - ndim if data.draw(st.booleans()) else axis for axis in permutation)


@given(shape=array_shapes(min_dims=1, max_dims=4, max_side=3), data=st.data(), seed=seeds)
def test_transpose_gradient_with_negative_and_permuted_axes(shape, data, seed):
    permutation = data.draw(st.permutations(range(len(shape))))
    axes = signed_axes(data, len(shape), permutation)
    x = np.random.default_rng(seed).standard_normal(shape)
    ts.gradcheck(lambda t: t.transpose(axes), x)
    ts.gradcheck(lambda t: ts.transpose(t, axes), x)
    assert ts.tensor(x).transpose(axes).shape == x.transpose(axes).shape


@pytest.mark.parametrize("reduce", [ts.sum, ts.mean, ts.max])
@given(shape=array_shapes(min_dims=1, max_dims=4, max_side=3), keepdims=st.booleans(),
       data=st.data(), seed=seeds)
def test_reduction_gradient_over_several_signed_axes_in_any_order(reduce, shape, keepdims, data, seed):
    chosen = data.draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True))
    axis = signed_axes(data, len(shape), chosen)
    x = np.random.default_rng(seed).permutation(np.arange(np.prod(shape))).reshape(shape) * 0.1
    ts.gradcheck(lambda t: reduce(t, axis=axis, keepdims=keepdims), x)


@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4), data=st.data(), seed=seeds)
def test_concat_stack_split_gradient_on_any_signed_axis(shape, data, seed):
    rng = np.random.default_rng(seed)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    ts.gradcheck(lambda p, q: ts.concat([p, q], axis=axis), a, b)
    ts.gradcheck(lambda p, q: ts.stack([p, q], axis=axis), a, b)
    new_axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    ts.gradcheck(lambda p, q: ts.stack([p, q], axis=new_axis), a, b)
    parts = shape[axis]
    ts.gradcheck(lambda t: ts.concat(ts.split(t, parts, axis=axis)[::-1], axis=axis), a)


@pytest.mark.parametrize("composite", [ts.softmax, ts.log_softmax, ts.logsumexp])
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data(), seed=seeds)
def test_composite_gradient_on_any_signed_axis(composite, shape, data, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    ts.gradcheck(lambda t: composite(t, axis=axis), np.random.default_rng(seed).standard_normal(shape) * 3)


@pytest.mark.parametrize("axes", [(0, 0, 1), (0, 1), (0, 1, 3), (0, 1, -4), (2, 1, 0, 3)])
def test_transpose_refuses_axes_that_are_not_a_permutation(axes):
    with pytest.raises(ts.ShapeError, match=r"transpose: axes .* are not a permutation of the 3 axes of shape \(2, 3, 4\)"):
        ts.tensor(np.zeros((2, 3, 4))).transpose(axes)


@pytest.mark.parametrize("call", [lambda t: ts.split(t, 2, axis=2), lambda t: ts.sum(t, axis=-3),
                                  lambda t: ts.concat([t, t], axis=5)])
def test_an_axis_out_of_range_is_a_shape_error_naming_the_op(call):
    with pytest.raises(ts.ShapeError, match=r"^(split|sum|concat): .*out of (range|bounds)"):
        call(ts.tensor(np.zeros((2, 4))))
