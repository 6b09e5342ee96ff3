# %% [markdown]
# # From primitives to a fused kernel
#
# Everything so far built recurrent networks from primitive operations: a matrix product here,
# a sigmoid there, each recorded in the graph, each differentiated by its own small backward
# function. That is the clearest way to *understand* an LSTM, and autograd makes it correct for
# free. It is not the fastest way to *run* one, and every deep-learning framework runs its
# recurrent layers differently: as one **fused kernel**, a hand-written loop over time with its
# backward pass written by hand too.
#
# tinyseq has both. Its `SimpleRNN`, `LSTM` and `GRU` layers take
# `implementation="cells"` (the cell from primitives, step after step) or
# `implementation="fused"` (one kernel for the whole sequence). In this tutorial you will:
#
# 1. count what the primitive version records,
# 2. check that the two implementations compute the same outputs and gradients,
# 3. see what the fused kernel does differently,
# 4. measure the difference, and
# 5. see how padding, masked, costs nothing.

# %%
import inspect
import time

import numpy as np

import tinyseq as ts
from tinyseq import viz
from tinyseq.course import pick, show, table, use_plain_matplotlib
from tinyseq.layers import GRU, LSTM, SimpleRNN
from tinyseq.nn import fused

plt = use_plain_matplotlib()

# %% [markdown]
# ## 1. What the primitive version records
#
# Run an LSTM layer over a batch of sequences both ways, and count the nodes of the graph each
# leaves behind for backward:

# %%
rng = np.random.default_rng(0)
batch, timesteps, features, units = 8, 50, 16, 32
inputs = rng.normal(size=(batch, timesteps, features)).astype(np.float32)


def lstm_pair(units, seed=0):
    """An LSTM layer of each implementation, with identical weights."""
    ts.random.seed(seed)
    cells, kernel = LSTM(units, implementation="cells"), LSTM(units, implementation="fused")
    probe = ts.tensor(inputs[:1, :1])
    cells(probe), kernel(probe)                     # build the weights
    kernel.set_weights(cells.get_weights())
    return cells, kernel


cells_layer, fused_layer = lstm_pair(units)
counts = {}
for name, layer in (("cells", cells_layer), ("fused", fused_layer)):
    output = layer(ts.tensor(inputs, requires_grad=True))
    nodes = [node for node in viz.topological_order(output) if node.parents]
    counts[name] = len(nodes)
    ops = sorted({node.op for node in nodes})
    print(f"{name}: {len(nodes):5d} operations in the graph; kinds: {', '.join(ops)}")
print(f"per time step, the cells version records {counts['cells'] / timesteps:.0f} operations; "
      f"the fused version's two are the layer and the slice that takes its last output")

# %% [markdown]
# Each of those operations is a Python call that allocates a fresh numpy array, a node the
# engine has to visit on the way back, and a backward closure holding the arrays it needs.
# For big matrices that bookkeeping is small next to the arithmetic. An RNN's steps are the
# opposite: many, and small (a batch of 8 times 32 units here), so the bookkeeping dominates.
#
# ## 2. The same numbers
#
# A kernel with a hand-written backward pass can be wrong in ways autograd never is, so the first
# thing to check is that both implementations agree: the outputs, the gradient with respect to
# the inputs, and the gradient of every weight.

# %%
def run(layer, x, seed=1):
    x = ts.tensor(x, requires_grad=True)
    layer.zero_grad()
    output = layer(x)
    weights = np.random.default_rng(seed).normal(size=output.shape).astype(np.float32)
    (output * ts.tensor(weights)).sum().backward()
    return output.numpy(), x.grad, [p.grad for p in layer.parameters()]


out_c, dx_c, dw_c = run(cells_layer, inputs)
out_f, dx_f, dw_f = run(fused_layer, inputs)
rows = [["output", f"{np.max(np.abs(out_c - out_f)):.1e}", f"{np.max(np.abs(out_c)):.2f}"],
        ["gradient of the inputs", f"{np.max(np.abs(dx_c - dx_f)):.1e}", f"{np.max(np.abs(dx_c)):.2f}"]]
rows += [[f"gradient of {name}", f"{np.max(np.abs(a - b)):.1e}", f"{np.max(np.abs(a)):.2f}"]
         for (name, _), a, b in zip(cells_layer.named_parameters(), dw_c, dw_f)]
table(["quantity", "largest difference, cells vs fused", "largest value"], rows)

# %% [markdown]
# The differences are float32 rounding: the two versions add the same numbers in different
# orders. tinyseq's tests check this agreement for all three cell types, with masks, with
# `go_backwards` and with `return_sequences`.
#
# ## 3. What the kernel does differently
#
# The fused kernel (the package `tinyseq/nn/fused/`; the per-step equations are in
# `tinyseq/nn/fused/steps.py`) computes the same equations as [tutorial 4](04-lstm.md),
# arranged for speed:
#
# * **One big product instead of many small ones.** \(x_t W + b\) does not depend on the state,
#   so it is computed for all time steps at once, before the loop. Only \(h_{t-1} U\) stays
#   inside it.
# * **No allocation inside the loop.** The gates and states of every step go into arrays
#   allocated once per sequence, and every step writes into them in place.
# * **Backward through time by hand.** The backward loop walks the steps in reverse with the
#   derivatives written out. The weight gradients are sums over the steps, so the loop only
#   stores each step's gate gradients; one large matrix product per weight adds them up after it.
# * **One node in the graph.** The engine sees the whole layer as a single operation.
#
# Here is one LSTM step, forward and back, as the kernel writes it: every line operates on
# whole (batch, units) blocks, in place.

# %%
print(inspect.getsource(fused.LSTMSteps.forward_step))
print(inspect.getsource(fused.LSTMSteps.backward_step))

# %% [markdown]
# Compare the backward step with the derivatives of the equations: \(\partial c_t\) collects the
# gradient arriving from \(h_t\) through \(o_t \tanh(c_t)\); each gate's gradient is
# \(\partial c_t\) or \(\partial h_t\) times the other factor of its product; the activations'
# slopes \(\sigma(1-\sigma)\) and \(1 - g^2\) follow; and \(\partial c_{t-1} = \partial c_t \odot f_t\),
# the forget-gate path of [tutorial 4](04-lstm.md).
#
# ## 4. The measured speed
#
# Time one forward and backward pass of each implementation, for a few sizes, and keep the best
# of several runs (the least disturbed by anything else the computer was doing):

# %%
def best_time(layer, x, repeats):
    times = []
    for _ in range(repeats):
        layer.zero_grad()
        started = time.perf_counter()
        output = layer(ts.tensor(x, requires_grad=True))
        output.sum().backward()
        times.append(time.perf_counter() - started)
    return min(times)


REPEATS = pick(full=5, fast=1)
SIZES = pick(full=[(32, 50, 32, 32), (32, 200, 32, 32), (32, 50, 32, 128), (32, 200, 32, 128)],
             fast=[(8, 20, 8, 16)])
rows, speedups = [], []
for batch, timesteps, features, units in SIZES:
    x = rng.normal(size=(batch, timesteps, features)).astype(np.float32)
    for kind in (SimpleRNN, LSTM, GRU):
        ts.random.seed(0)
        slow, quick = kind(units, implementation="cells"), kind(units, implementation="fused")
        seconds_cells, seconds_fused = best_time(slow, x, REPEATS), best_time(quick, x, REPEATS)
        speedups.append((kind.__name__, timesteps, units, seconds_cells / seconds_fused))
        rows.append([kind.__name__, f"{batch} × {timesteps} × {features}", units,
                     f"{seconds_cells * 1e3:.1f} ms", f"{seconds_fused * 1e3:.1f} ms",
                     f"{seconds_cells / seconds_fused:.1f}×"])
table(["layer", "batch × timesteps × features", "units", "cells (primitives)", "fused kernel", "speed-up"],
      rows)

# %%
figure, axes = plt.subplots()
names = [f"{kind}\nT={steps}, {units} units" for kind, steps, units, _ in speedups]
axes.barh(range(len(speedups)), [s for *_, s in speedups], color=["C0", "C1", "C2"] * len(SIZES))
axes.set_yticks(range(len(speedups)), names, fontsize=7)
axes.invert_yaxis()
axes.axvline(1, color="k", linewidth=0.8)
axes.set(xlabel="speed-up of the fused kernel (forward + backward)", title="Fused kernel against primitives")
figure.set_size_inches(6.4, 0.32 * len(speedups) + 1.2)
show(figure, "speedups")

# %% [markdown]
# Compare the rows. The gain is larger with 32 units than with 128: the smaller each step's
# arithmetic, the larger the share of the time that went to per-operation bookkeeping, which is
# what the kernel removes. That is the reason frameworks fuse: not different mathematics, the
# same mathematics with the overhead taken out of the inner loop.
#
# The price is paid in code: the kernel's backward pass is written by hand, so it needs the
# checks of section 2 for every option it supports, and a new kind of cell needs a new kernel.
# A cell built from primitives runs as soon as its forward pass is written. That is why tinyseq
# keeps both: the cells to read and to experiment with, the kernels to train with. The layers'
# defaults:

# %%
for kind in (SimpleRNN, LSTM, GRU):
    print(f"{kind.__name__}: implementation={inspect.signature(kind).parameters['implementation'].default!r}")

# %% [markdown]
# ## 5. Padding that costs nothing
#
# Real sequences differ in length. `pad_sequences` makes a batch rectangular by putting zeros in
# front of the shorter ones (Keras's default, `padding="pre"`), and IMDB reviews are short next
# to the 500 steps they are padded to: most of a batch is padding. With
# `Embedding(..., mask_zero=True)` the recurrent layer carries its states over padding steps
# unchanged, so a review padded at the front simply *waits in its initial state* until its
# first word. Nothing has to be computed for it before then.
#
# The kernel uses that. It sorts the rows of the batch by their first real step
# (`fused.StartSchedule`), so that the rows running at any step are the first few of the batch,
# and step \(t\) computes only those. Here is a batch of reviews of random lengths, and how many
# of its rows each step runs:

# %%
from tinyseq.layers import Embedding
from tinyseq.preprocessing.sequence import pad_sequences

batch, timesteps = pick(full=(128, 500), fast=(8, 40))
vocabulary = 1000
# review-like lengths: mostly short, a few running past the end (and cut to it)
lengths = np.minimum(rng.lognormal(np.log(timesteps / 3), 0.7, size=batch).astype(int) + 1, timesteps)
ids = pad_sequences([rng.integers(1, vocabulary, size=n) for n in lengths], maxlen=timesteps)
schedule = fused.StartSchedule(ids != 0, slice(None), timesteps, batch)

figure, axes = plt.subplots()
axes.fill_between(range(timesteps), schedule.started, step="post", alpha=0.4, label="rows computed")
axes.axhline(batch, color="k", linewidth=0.8, label="rows in the batch")
axes.set(xlabel="time step", ylabel="rows", title="Each review runs from its first word on")
axes.legend(loc="center left")
show(figure, "started-rows")
print(f"work done: {schedule.started.sum() / (batch * timesteps):.0%} of {batch} rows × {timesteps} steps "
      f"(the reviews fill {lengths.sum() / (batch * timesteps):.0%} of the padded batch)")

# %% [markdown]
# Skipping is only allowed because it changes nothing. Check it: run the padded, masked batch,
# and each review alone at its own length with no padding at all, and compare the final outputs.

# %%
ts.random.seed(0)
embedding, lstm = Embedding(vocabulary, 32, mask_zero=True), LSTM(100)
masked_output = lstm(embedding(ids), mask=embedding.compute_mask(ids)).numpy()
alone = np.concatenate([lstm(embedding(row[row != 0][None])).numpy() for row in ids])
print(f"largest difference, padded batch vs each review alone: {np.max(np.abs(masked_output - alone)):.1e}")

# %% [markdown]
# Only float32 rounding. And the time, forward and backward, with and without the mask:

# %%
def best_masked_time(ids, mask, repeats):
    times = []
    for _ in range(repeats):
        lstm.zero_grad()
        started = time.perf_counter()
        lstm(embedding(ids), mask=mask).sum().backward()
        times.append(time.perf_counter() - started)
    return min(times)


without_mask = best_masked_time(ids, None, REPEATS)
with_mask = best_masked_time(ids, embedding.compute_mask(ids), REPEATS)
table(["the padded batch", "forward + backward"],
      [["all steps of every row (no mask)", f"{without_mask * 1e3:.1f} ms"],
       ["masked: each row from its first word", f"{with_mask * 1e3:.1f} ms"]])

# %% [markdown]
# On the IMDB model (`tinyseq imdb train --mask-zero`) the same trick takes an epoch from 72
# to 45 seconds (`benchmarks/README.md` in the repository has the measurements). PyTorch
# offers it as `pack_padded_sequence`, which you call yourself; here the mask from the
# embedding is enough.
#
# ## What you have seen
#
# * Built from primitives, an LSTM records every gate's operations at every time step; fused,
#   the whole layer is one operation in the graph.
# * The two compute the same outputs and gradients, to float32 rounding.
# * The kernel computes the input projection for all steps at once, reuses preallocated arrays,
#   and runs backward through time by hand. The work no step waits for (the input projection
#   ahead of the loop, the weight gradients behind it) runs on a second thread meanwhile
#   (`tinyseq.threads`).
# * Measured, the fused kernel is two to four times faster at these sizes, most of all when each
#   step is small.
# * With a mask, a sequence padded at the front waits in its initial state, so the kernel runs
#   each row only from its first real step: exactly the same numbers, for a fraction of the work.
#
# ## Exercises
#
# **`bptt`** (from [tutorial 3](03-vanishing-gradients.md)): the kernel's backward loop is
# backpropagation through time written by hand; write one yourself, for a simple RNN in plain
# numpy, and let the checker compare it with autograd:
#
# ```bash
# tinyseq exercise start bptt
# tinyseq exercise check bptt.py
# ```
#
# It trains the part of a fused kernel that autograd no longer checks for you: the backward
# walk through the steps, with the weight gradients summed over them.
#
# ## Try this
#
# 1. **A longer sequence.** In section 1 change
#    `batch, timesteps, features, units = 8, 50, 16, 32` to
#    `batch, timesteps, features, units = 8, 100, 16, 32`. Predict both operation counts before
#    you run: the cells version's doubles (18 per step, 1,800), the fused version's stays at 2.
# 2. **Shorter reviews.** In section 5 change `np.log(timesteps / 3)` to
#    `np.log(timesteps / 10)`. Predict the "work done" share: the kernel runs each row from its
#    first word only, so the share follows the reviews' share of the padded batch (about 13 %
#    of it at full size), and the masked pass gets faster still.
# 3. **Padding at the end.** In section 5 change `maxlen=timesteps)` in the `pad_sequences` line
#    to `maxlen=timesteps, padding="post")`. Predict the work done and the comparison with each
#    review alone. The outputs still match (a masked row keeps its state over the padding), but
#    every row now starts at step 0, so the work done is 100 % and the masked pass is no faster
#    than the unmasked one: the skipping needs the padding in front, Keras's default.

