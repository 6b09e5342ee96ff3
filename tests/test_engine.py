"""The engine's contract: graph walking, accumulation, freeing, dtypes, scopes and errors."""

import re
import resource
import warnings

import numpy as np
import pytest

import tinyseq as ts
from tinyseq.gradcheck import gradcheck
from tinyseq.tensor import ShapeError


def leaf(values, dtype=np.float64):
    return ts.tensor(np.array(values, dtype=dtype), requires_grad=True)


# ---- the graph -----------------------------------------------------------------------
def test_reused_node_gets_the_sum_of_its_gradients():
    a = leaf(3.0)
    b = a + a          # b = 2a
    c = b * b          # c = 4a², dc/da = 8a
    c.backward()
    assert a.grad == 24.0


def test_diamond():
    x = leaf([1.0, 2.0])
    top, bottom = x * 3, ts.exp(x)
    (top * bottom).sum().backward()       # d/dx 3x·e^x = 3e^x(1 + x)
    np.testing.assert_allclose(x.grad, 3 * np.exp([1.0, 2.0]) * [2.0, 3.0], rtol=1e-15)


def test_broadcast_gradients_are_reduced_to_each_input_shape():
    a, b = leaf(np.ones((2, 3))), leaf([[1.0], [2.0]])
    bias = leaf([10.0, 20.0, 30.0])
    (a * b + bias).sum().backward()
    np.testing.assert_array_equal(a.grad, [[1, 1, 1], [2, 2, 2]])
    np.testing.assert_array_equal(b.grad, [[3], [3]])
    np.testing.assert_array_equal(bias.grad, [2, 2, 2])


def test_a_million_op_chain_backpropagates_without_recursion_in_bounded_memory():
    start, weight = leaf(2.0), leaf(1.0)
    x = start
    for _ in range(1_000_000):
        x = x * weight
    peak_after_forward = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    x.backward()
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_after_forward
    assert start.grad == 1.0 and weight.grad == 2_000_000.0  # d(2·w^N)/dw at w = 1 is 2N
    assert grown < 300_000, f"backward raised peak memory by {grown} KiB"


# ---- accumulation, freeing, modes -------------------------------------------------------
def test_leaf_gradients_accumulate_across_backward_calls_until_zeroed():
    w = leaf([1.0, 2.0])
    (w * w).sum().backward()
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [4.0, 8.0])
    w.zero_grad()
    assert w.grad is None
    (w * 5).sum().backward()
    np.testing.assert_array_equal(w.grad, [5.0, 5.0])


def test_intermediate_gradients_are_not_kept_unless_asked():
    x = leaf([1.0, 2.0])
    hidden, kept = x * 2, (x * 3).retain_grad()
    (hidden + kept).sum().backward()
    assert hidden.grad is None
    np.testing.assert_array_equal(kept.grad, [1.0, 1.0])


def test_second_backward_through_a_freed_graph_raises_and_retain_graph_allows_it():
    x = leaf(2.0)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad == 8.0
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_backward_on_a_non_scalar_needs_a_gradient():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match=r"one-element tensor, but this one has shape \(2,\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\) but the tensor has shape \(2,\)"):
        y.backward(np.ones(3))
    y.backward(np.array([1.0, 10.0]))


def test_backward_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (ts.tensor([1.0]) * 2).sum().backward()


def test_no_grad_records_nothing_and_detach_cuts_the_graph():
    x = leaf([1.0])
    with ts.no_grad():
        y = x * 2
    assert not y.requires_grad and y.parents == () and ts.is_grad_enabled()
    z = (x * 2).detach()
    assert not z.requires_grad and z.parents == ()
    np.testing.assert_array_equal(z.data, [2.0])


# ---- Tensor basics ---------------------------------------------------------------------
def test_dtypes_python_data_is_float32_float64_stays_and_ops_never_upcast():
    assert ts.tensor([1, 2]).dtype == np.float32
    assert ts.tensor(1.5).dtype == np.float32
    assert ts.tensor(np.zeros(2)).dtype == np.float64
    assert ts.tensor([1, 2], dtype="int64").dtype == np.int64
    x = ts.tensor([0.5, 2.0], requires_grad=True)
    results = [x + 1.0, 2.0 * x, x / 3, 1 - x, x ** 2, ts.exp(x), ts.log(x), ts.sigmoid(x), ts.tanh(x),
               ts.sqrt(x), x @ ts.tensor([[1.0], [2.0]]), x.mean(), ts.softmax(x), x + np.ones(2)]
    assert all(r.dtype == np.float32 for r in results)
    sum(r.sum() for r in results).backward()
    assert x.grad.dtype == np.float32


def test_mixed_dtypes_are_refused_with_a_clear_error():
    with pytest.raises(TypeError, match="mul: inputs have different dtypes float32, float64"):
        ts.tensor([1.0]) * ts.tensor(np.ones(1))


def test_tensor_properties_and_conversions():
    x = ts.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
    assert x.numpy() is x.data and x.T.shape == (3, 2) and x.transpose(1, 0).shape == (3, 2)
    assert x.reshape(3, 2).shape == (3, 2) and x.reshape((6,)).shape == (6,)
    assert x.sum().item() == 21.0 and x.max(axis=1).numpy().tolist() == [3.0, 6.0]
    assert x[1, 2].item() == 6.0 and x[:, 1].numpy().tolist() == [2.0, 5.0]
    np.testing.assert_array_equal(x > 2.5, [[False, False, True], [True, True, True]])
    assert (x == x).all() and isinstance(x < 1, np.ndarray)
    assert x.maximum(3.0).numpy().tolist() == [[3, 3, 3], [4, 5, 6]] and x.pow(2)[0, 2].item() == 9.0
    assert [part.shape for part in x.split(3, axis=1)] == [(2, 1)] * 3 and x.minimum(x).shape == (2, 3)
    assert "requires_grad=True" in repr(ts.tensor([1.0], requires_grad=True))
    np.testing.assert_array_equal(np.ones(3) * ts.tensor([1.0, 2.0, 3.0]), [1.0, 2.0, 3.0])  # reflected


def test_sigmoid_is_stable_and_silent_for_huge_inputs():
    x = ts.tensor([-1e4, -50.0, 0.0, 50.0, 1e4], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = ts.sigmoid(x)
        y.sum().backward()
    np.testing.assert_allclose(y.numpy(), [0.0, 1.9287498e-22, 0.5, 1.0, 1.0], rtol=1e-6)
    assert np.isfinite(x.grad).all()


def test_name_scopes_nest_and_tag_ops():
    x = leaf([1.0])
    with ts.name_scope("lstm"):
        with ts.name_scope("forget_gate"):
            f = ts.sigmoid(x)
        g = f * 2
    assert f.scope == ("lstm", "forget_gate") and g.scope == ("lstm",) and (g + 1).scope == ()
    with pytest.raises(ValueError, match="non-empty string"):
        with ts.name_scope(""):
            pass


# ---- bad input ---------------------------------------------------------------------------
def test_matmul_shape_error_names_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: cannot multiply shapes \(2, 3\) and \(4, 5\)"):
        ts.tensor(np.ones((2, 3))) @ ts.tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"matmul: cannot multiply shapes \(3,\) and \(2, 3\)"):
        ts.tensor(np.ones(3)) @ ts.tensor(np.ones((2, 3)))


@pytest.mark.parametrize("op", [ts.add, ts.sub, ts.mul, ts.div, ts.maximum, ts.minimum])
def test_elementwise_incompatible_shapes(op):
    with pytest.raises(ValueError, match=rf"{op.__name__}: cannot apply to shapes \(2, 3\) and \(4, 5\)"):
        op(ts.tensor(np.ones((2, 3))), ts.tensor(np.ones((4, 5))))


def test_shape_errors_for_reshape_concat_stack_split():
    x = ts.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"reshape: cannot apply to shapes \(2, 3\).*size 6 into shape \(4,\)"):
        x.reshape(4)
    with pytest.raises(ValueError, match=r"concat: shapes \(2, 3\), \(3, 2\) do not match outside axis 0"):
        ts.concat([x, ts.tensor(np.ones((3, 2)))])
    with pytest.raises(ValueError, match=r"stack: shapes \(2, 3\), \(2, 2\) do not match"):
        ts.stack([x, ts.tensor(np.ones((2, 2)))])
    with pytest.raises(ValueError, match="split: cannot split axis -1 of size 3 into 2 equal parts"):
        ts.split(x, 2)


def test_index_out_of_range():
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of bounds for axis 0 with size 3"):
        ts.tensor([1.0, 2.0, 3.0])[5]


def test_embedding_rejects_ids_outside_the_vocabulary_naming_id_position_and_size():
    weight = ts.tensor(np.ones((10, 2)))
    with pytest.raises(IndexError, match=r"id 10 at position \(1, 0\) is outside the vocabulary of size 10"):
        ts.embedding(weight, np.array([[1, 2], [10, 3]]))
    with pytest.raises(IndexError, match=r"id -1 at position \(1,\)"):
        ts.embedding(weight, np.array([0, -1]))


def test_non_numeric_dtype_is_refused():
    with pytest.raises(TypeError, match="not numeric"):
        ts.tensor(["a", "b"])
    with pytest.raises(TypeError, match="dtype <U1 is not numeric|not numeric"):
        ts.tensor([1.0], dtype="U1")
    with pytest.raises(TypeError, match="requires_grad needs a floating-point dtype"):
        ts.tensor([1, 2], dtype="int32", requires_grad=True)


def test_pow_needs_a_number_exponent():
    with pytest.raises(TypeError, match="pow: the exponent must be a Python number"):
        ts.tensor([2.0]) ** ts.tensor([2.0])


# ---- the engine refuses, never reshapes; sparse gradients are a protocol ---------------------
def test_a_backward_whose_gradient_does_not_reduce_to_its_input_is_an_error_naming_the_op():
    # Same number of elements, wrong shape: an engine that reshaped would hide this bug.
    wrong_turn = ts.ops.primitive(1)(lambda a: (a.T.copy(), lambda g: (g,)))
    wrong_turn.__name__ = "wrong_turn"
    x = leaf(np.ones((2, 3)))
    with pytest.raises(ts.ShapeError, match=r"^<lambda>: its backward returned a gradient of shape "
                                            r"\(3, 2\), which does not reduce to its input's shape \(2, 3\)"):
        wrong_turn(x).sum().backward()
    assert x.grad is None


def test_any_gradient_with_add_into_is_added_into_one_buffer():
    class EveryOther:
        """A sparse gradient of our own: ones at the even positions."""
        def __init__(self, g):
            self.g = g

        def add_into(self, buffer):
            buffer[::2] += self.g[::2]
    pick_evens = ts.ops.primitive(1)(lambda a: (a.copy(), lambda g: (EveryOther(g),)))
    x = leaf(np.zeros(5))
    (pick_evens(x) + x).sum().backward()       # dense and sparse gradients meet in one sum
    np.testing.assert_array_equal(x.grad, [2, 1, 2, 1, 2])


def test_power_zero_has_zero_gradient_everywhere_including_at_zero():
    x = leaf([0.0, 2.0, -3.0])
    y = x ** 0
    y.sum().backward()
    np.testing.assert_array_equal(y.data, [1, 1, 1])
    np.testing.assert_array_equal(x.grad, [0, 0, 0])


def test_an_integer_result_does_not_require_grad():
    x = leaf([1.6, -2.2])
    ids = x.astype(np.int32)
    assert not ids.requires_grad and ids.backward_fn is None
    np.testing.assert_array_equal(ids.data, [1, -2])
    with pytest.raises(RuntimeError, match="does not require grad"):
        ids.sum().backward()


def test_split_names_its_parts_for_drawings():
    z = leaf(np.arange(8.0).reshape(1, 8))
    z_i, z_f = ts.split(z, 2, names=("z_i", "z_f"))
    assert (z_i.name, z_f.name) == ("z_i", "z_f") and (z * 1).name is None
    with pytest.raises(ValueError, match="split: 3 names given for 2 parts"):
        ts.split(z, 2, names=("a", "b", "c"))


@pytest.mark.parametrize("ids, error, message", [
    ([2**70 + 1], IndexError, r"id 1180591620717411303425 at position \(0,\) is outside"),
    ([float("inf")], IndexError, r"id inf at position \(0,\) is outside"),
    ([np.uint64(2**63 + 5)], IndexError, r"id 9223372036854775813 at position \(0,\)"),
    ([True, False], TypeError, r"ids must be integers, got booleans"),
    ([[0, 1.5]], TypeError, r"ids must be whole numbers, got 1.5 at position \(0, 1\)"),
    ([float("nan")], TypeError, r"ids must be whole numbers, got nan"),
])
def test_embedding_reports_the_id_as_given(ids, error, message):
    with pytest.raises(error, match=r"^embedding: " + message):
        ts.embedding(ts.tensor(np.ones((5, 2))), ids)


def test_star_import_keeps_python_builtins_and_subpackages_are_attributes():
    namespace = {}
    exec("from tinyseq import *", namespace)
    assert not {"sum", "max", "abs", "pow"} & set(namespace)
    assert "tensor" in namespace and "no_grad" in namespace
    import tinyseq
    for name in ("nn", "models", "viz", "datasets", "experiments", "optimizers", "losses"):
        assert getattr(tinyseq, name).__name__ == f"tinyseq.{name}"
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        tinyseq.nope


# ---- axes, split points, exponents and dtypes: one check per kind of argument ------------------
AXIS_OPS = {
    "sum": lambda x, axis: ts.sum(x, axis=axis), "mean": lambda x, axis: ts.mean(x, axis=axis),
    "max": lambda x, axis: ts.max(x, axis=axis), "concat": lambda x, axis: ts.concat([x, x], axis=axis),
    "stack": lambda x, axis: ts.stack([x, x], axis=axis), "split": lambda x, axis: ts.split(x, 1, axis=axis)[0],
}


@pytest.mark.parametrize("op", AXIS_OPS)
@pytest.mark.parametrize("axis, error, message", [
    (1.0, TypeError, "axis must be an integer or a tuple of integers, got 1.0"),
    (True, TypeError, "axis must be an integer or a tuple of integers, got True"),
    ("0", TypeError, "axis must be an integer or a tuple of integers, got '0'"),
    (7, ShapeError, "axis 7 is out of range for shape (2, 3)"),
    (-7, ShapeError, "axis -7 is out of range for shape (2, 3)"),
])
def test_every_op_with_an_axis_refuses_a_bad_one_naming_itself(op, axis, error, message):
    with pytest.raises(error, match=re.escape(f"{op}: {message}")):
        AXIS_OPS[op](ts.tensor(np.ones((2, 3)), requires_grad=True), axis)


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_a_reduction_refuses_an_axis_named_twice_also_through_a_negative_one(op):
    with pytest.raises(ShapeError, match=re.escape(f"{op}: axis (1, -1) names an axis twice (shape (2, 3))")):
        AXIS_OPS[op](ts.tensor(np.ones((2, 3))), (1, -1))


@pytest.mark.parametrize("op, axis, weights_shape", [
    ("sum", (0, -1), (3,)), ("mean", -2, (2, 4)), ("max", (-3, 2), (3,)), ("concat", -2, (2, 6, 4)),
    ("stack", -1, (2, 3, 4, 2)), ("stack", -3, (2, 2, 3, 4)), ("split", -1, (2, 3, 4))])
def test_negative_axes_give_the_gradients_finite_differences_give(op, axis, weights_shape):
    weights = ts.tensor(np.random.default_rng(1).standard_normal(weights_shape))
    x = ts.tensor(np.random.default_rng(2).standard_normal((2, 3, 4)), requires_grad=True)
    gradcheck(lambda x: (AXIS_OPS[op](x, axis) * weights).sum(), x)


@pytest.mark.parametrize("sections, error, message", [
    ([5], ShapeError, "split: the split points [5] must be increasing integers within 0..4"),
    ([3, 1], ShapeError, "split: the split points [3, 1] must be increasing integers within 0..4"),
    ([1.5], ShapeError, "split: the split points [1.5] must be increasing integers within 0..4"),
    (2.0, TypeError, "split: sections must be a number of equal parts or a list of split points, got 2.0"),
    (True, TypeError, "split: sections must be a number of equal parts or a list of split points, got True"),
])
def test_split_refuses_points_that_would_overlap_or_fall_outside(sections, error, message):
    with pytest.raises(error, match=re.escape(message)):
        ts.split(ts.tensor(np.ones((4, 3))), sections, axis=0)


def test_concat_and_stack_of_nothing_say_so():
    for op in (ts.concat, ts.stack):
        with pytest.raises(ValueError, match=f"^{op.__name__}: needs at least one tensor, got none$"):
            op([])


@pytest.mark.parametrize("exponent", ["2", True, np.array([1.0, 2.0]), None])
def test_pow_refuses_an_exponent_that_is_not_a_number(exponent):
    with pytest.raises(TypeError, match=re.escape(f"pow: the exponent must be a Python number, got {exponent!r}")):
        ts.tensor([1.0, 2.0]) ** exponent


@pytest.mark.parametrize("make, error, message", [
    (lambda: ts.tensor([1.0]).astype("banana"), TypeError, "astype: 'banana' is not a dtype"),
    (lambda: ts.tensor([1.0]).astype(str), TypeError, "astype: dtype <U0 is not numeric"),
    (lambda: ts.tensor([1.0]).astype(complex), TypeError, "astype: dtype complex128 is not numeric"),
    (lambda: ts.tensor([[1.0, 2.0], [3.0]]), ValueError, "tensor: the data is ragged"),
    (lambda: ts.tensor([1.0], requires_grad="yes"), ValueError,
     "tensor: requires_grad must be True or False, got 'yes'"),
    (lambda: ts.tensor([1.0, 2.0]).reshape(2.0), TypeError,
     "reshape: the shape must be whole numbers ≥ 0 (one may be -1), got 2.0"),
    (lambda: ts.tensor(np.ones(6)).reshape(-2, -3), TypeError, "reshape: the shape must be whole numbers"),
])
def test_dtypes_data_and_shapes_that_are_not_numbers_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()


def test_text_data_is_not_reported_as_ragged():
    with pytest.raises(TypeError, match=r"^tensor: the data is not numeric \(could not convert string"):
        ts.tensor(["a", "b"], dtype=np.float32)
    with pytest.raises(ValueError, match=r"^tensor: the data is ragged"):
        ts.tensor([[1.0, 2.0], [3.0]])
