"""tinyseq against PyTorch (CPU), where it is installed: the same values and gradients.

Each case runs one function in both frameworks on the same float64 inputs and compares the
outputs and the gradients of sum(output * R) for a fixed random R. Skipped where torch is not
installed (`pip install torch==2.13.0`, the CPU build).
"""

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import tinyseq as ts
from tinyseq.nn import GRU, LSTM, SimpleRNN

torch = pytest.importorskip("torch")

seeds = st.integers(0, 2**32 - 1)


def agree(tinyseq_fn, torch_fn, *arrays, rtol=1e-10, atol=1e-12):
    """Run both functions on the same inputs; compare outputs and every input's gradient."""
    ours = [ts.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out, expected = tinyseq_fn(*ours), torch_fn(*theirs)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=rtol, atol=atol)
    weights = np.random.default_rng(0).standard_normal(out.shape)
    (out * ts.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad, reference.grad.numpy(), rtol=rtol, atol=atol)


def values(rng, shape, low=0.2, high=2.0):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


UNARY = {
    "neg": (ts.neg, torch.neg), "exp": (ts.exp, torch.exp), "tanh": (ts.tanh, torch.tanh),
    "sigmoid": (ts.sigmoid, torch.sigmoid), "relu": (ts.relu, torch.relu), "abs": (ts.abs, torch.abs),
    "log |x|": (lambda x: ts.log(ts.abs(x)), lambda x: torch.log(torch.abs(x))),
    "sqrt |x|": (lambda x: ts.sqrt(ts.abs(x)), lambda x: torch.sqrt(torch.abs(x))),
    "x ** 3": (lambda x: x ** 3, lambda x: x ** 3),
    "x ** 0": (lambda x: x ** 0, lambda x: x ** 0),
    "clip": (lambda x: ts.clip(x, -1.0, 1.1), lambda x: torch.clamp(x, -1.0, 1.1)),
    "softmax": (lambda x: ts.softmax(x, axis=-1), lambda x: torch.softmax(x, dim=-1)),
    "log_softmax": (lambda x: ts.log_softmax(x, axis=0), lambda x: torch.log_softmax(x, dim=0)),
    "logsumexp": (lambda x: ts.logsumexp(x, axis=-1), lambda x: torch.logsumexp(x, dim=-1)),
}

BINARY = {
    "add": (ts.add, torch.add), "sub": (ts.sub, torch.sub), "mul": (ts.mul, torch.mul),
    "div": (ts.div, torch.div), "maximum": (ts.maximum, torch.maximum),
    "minimum": (ts.minimum, torch.minimum),
}


@pytest.mark.parametrize("name", UNARY)
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=4), seed=seeds)
def test_unary_ops_match_torch(name, shape, seed):
    agree(*UNARY[name], values(np.random.default_rng(seed), shape))


@pytest.mark.parametrize("name", BINARY)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seed=seeds)
def test_binary_ops_with_broadcasting_match_torch(name, shapes, seed):
    rng = np.random.default_rng(seed)
    agree(*BINARY[name], *(values(rng, shape) for shape in shapes.input_shapes))


@given(batch=st.sampled_from([(), (2,), (3, 1)]), n=st.integers(1, 4), k=st.integers(1, 4),
       m=st.integers(1, 4), seed=seeds)
def test_matmul_matches_torch(batch, n, k, m, seed):
    rng = np.random.default_rng(seed)
    agree(ts.matmul, torch.matmul, rng.standard_normal(batch + (n, k)), rng.standard_normal((k, m)))


@given(shape=array_shapes(min_dims=1, max_dims=4, max_side=3), data=st.data(), seed=seeds)
def test_axis_ops_with_signed_axes_match_torch(shape, data, seed):
    rng = np.random.default_rng(seed)
    x = rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) * 0.1  # no ties
    ndim = len(shape)
    axes = tuple(a - ndim if data.draw(st.booleans()) else a
                 for a in data.draw(st.permutations(range(ndim))))
    axis = data.draw(st.integers(-ndim, ndim - 1))
    keepdims = data.draw(st.booleans())
    agree(lambda t: t.transpose(axes), lambda t: t.permute(axes), x)
    agree(lambda t: ts.sum(t, axis=axis, keepdims=keepdims), lambda t: t.sum(dim=axis, keepdim=keepdims), x)
    agree(lambda t: ts.mean(t, axis=axis, keepdims=keepdims), lambda t: t.mean(dim=axis, keepdim=keepdims), x)
    agree(lambda t: ts.max(t, axis=axis, keepdims=keepdims),
          lambda t: t.amax(dim=axis, keepdim=keepdims), x)
    agree(lambda t: ts.concat([t, t * 2], axis=axis), lambda t: torch.cat([t, t * 2], dim=axis), x)
    agree(lambda t: ts.stack([t, t * 2], axis=axis), lambda t: torch.stack([t, t * 2], dim=axis), x)
    agree(lambda t: t[..., ::2] * 3, lambda t: t[..., ::2] * 3, x)


def test_embedding_matches_torch():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 6, size=(3, 5))
    agree(lambda w: ts.embedding(w, ids), lambda w: torch.nn.functional.embedding(torch.tensor(ids), w),
          rng.standard_normal((6, 4)))


# ---- the three recurrent layers, with Keras-layout weights moved into torch's layout --------------
def torch_layer(kind, tinyseq_layer, features, units):
    """A torch recurrent layer holding the same weights as `tinyseq_layer` (Keras layout)."""
    kernel, recurrent_kernel, bias = (w.astype(np.float64) for w in tinyseq_layer.get_weights())
    module = {"simple_rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](
        features, units, batch_first=True).double()
    if kind == "gru":
        # Keras's gates are z, r, h; torch's are r, z, n. Keras's bias rows: input, recurrent.
        order = [1, 0, 2]

        def reorder(matrix):
            blocks = np.split(matrix, 3, axis=-1)
            return np.concatenate([blocks[i] for i in order], axis=-1)
        kernel, recurrent_kernel = reorder(kernel), reorder(recurrent_kernel)
        input_bias, recurrent_bias = reorder(bias[0]), reorder(bias[1])
    else:
        # LSTM: Keras's i, f, c, o is torch's i, f, g, o; torch adds two biases: put ours in one.
        input_bias, recurrent_bias = bias, np.zeros_like(bias)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.tensor(kernel.T))
        module.weight_hh_l0.copy_(torch.tensor(recurrent_kernel.T))
        module.bias_ih_l0.copy_(torch.tensor(input_bias))
        module.bias_hh_l0.copy_(torch.tensor(recurrent_bias))
    return module


LAYERS = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


@pytest.mark.parametrize("implementation", ["fused", "cells"])
@pytest.mark.parametrize("kind", LAYERS)
def test_recurrent_layers_match_torch_outputs_and_gradients(kind, implementation):
    batch, steps, features, units = 3, 7, 4, 5
    rng = np.random.default_rng(1)
    ts.set_seed(2)
    layer = LAYERS[kind](units, return_sequences=True, implementation=implementation, dtype="float64")
    x = rng.standard_normal((batch, steps, features))
    x_ours = ts.tensor(x, requires_grad=True)
    ours = layer(x_ours)
    reference = torch_layer(kind, layer, features, units)
    x_torch = torch.tensor(x, requires_grad=True)
    expected, _ = reference(x_torch)
    np.testing.assert_allclose(ours.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)

    weights = rng.standard_normal(ours.shape)
    (ours * ts.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    kernel_grad = {name: p.grad for name, p in layer.named_parameters()}
    recurrent_grad = next(g for name, g in kernel_grad.items() if name.endswith("recurrent_kernel"))
    torch_recurrent_grad = reference.weight_hh_l0.grad.numpy().T
    if kind == "gru":
        blocks = np.split(torch_recurrent_grad, 3, axis=-1)
        torch_recurrent_grad = np.concatenate([blocks[1], blocks[0], blocks[2]], axis=-1)
    np.testing.assert_allclose(recurrent_grad, torch_recurrent_grad, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(x_ours.grad, x_torch.grad.numpy(), rtol=1e-9, atol=1e-11)
