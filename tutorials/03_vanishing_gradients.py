# %% [markdown]
# # Vanishing gradients, numerically
#
# At the end of [tutorial 2](02-recurrent-networks.md) the gradient of an RNN's last state
# reached each earlier input through a chain of steps. This tutorial stretches that chain to a
# hundred steps and measures what arrives at the far end. The answer explains why simple RNNs
# struggle to learn long-range dependencies, and why the LSTM was invented.
#
# You will:
#
# 1. derive the gradient through time as a product of per-step Jacobians,
# 2. measure it in a **linear** recurrence, where theory predicts it exactly,
# 3. add the `tanh` and see it vanish faster, even when the weights are large,
# 4. compare a simple RNN with an LSTM, both initialised as Keras initialises them.

# %%
import numpy as np

import tinyseq as ts
from tinyseq import nn, viz
from tinyseq.course import pick, show, table, use_plain_matplotlib

plt = use_plain_matplotlib()
STEPS = pick(full=100, fast=30)          # the length of the sequences
UNITS = 16

# %% [markdown]
# ## 1. The theory: a product of Jacobians
#
# Write the simple RNN's step as \(h_t = \tanh(a_t)\) with \(a_t = x_t W + h_{t-1} U + b\).
# How does a small change of \(h_t\) change the state \(k\) steps later? By the chain rule, one
# factor per step:
#
# \[
# \frac{\partial h_{t+k}}{\partial h_t}
#   = \prod_{s=t+1}^{t+k} \frac{\partial h_s}{\partial h_{s-1}},
# \qquad
# \frac{\partial h_s}{\partial h_{s-1}} = \operatorname{diag}\!\left(1 - h_s^2\right) U^\top .
# \]
#
# Each factor is the recurrent matrix, scaled unit by unit by the slope of `tanh`, which is at
# most 1. Taking norms, with \(\sigma_{\max}(U)\) the largest singular value of \(U\):
#
# \[
# \left\lVert \frac{\partial h_{t+k}}{\partial h_t} \right\rVert
#   \;\le\; \prod_{s=t+1}^{t+k} \lVert 1 - h_s^2 \rVert_\infty \, \sigma_{\max}(U)
#   \;\le\; \sigma_{\max}(U)^k .
# \]
#
# If \(\sigma_{\max}(U) < 1\) the gradient shrinks *at least exponentially* with the distance
# \(k\): it **vanishes**. If \(U\) is large, it can grow exponentially instead: it
# **explodes** (Bengio, Simard and Frasconi, 1994; Pascanu, Mikolov and Bengio, 2013). Let us
# measure both.
#
# ## 2. A linear recurrence: theory exact
#
# Drop the `tanh` and the input, and make \(U\) a scaled *orthogonal* matrix \(U = sQ\): every
# singular value of \(U\) is then exactly \(s\), and an orthogonal matrix keeps the length of
# any vector. So the theory predicts \(\lVert \partial h_{t+k} / \partial h_t \, v \rVert = s^k\)
# for a unit vector \(v\), exactly.
#
# The measurement: run the recurrence for `STEPS` steps keeping every state's gradient, take
# the last state's projection on a random unit vector \(v\) as the quantity to differentiate,
# and read the gradient's norm at every earlier step.

# %%
def orthogonal(units, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(units, units)))
    return (q * np.sign(np.diag(r))).astype(np.float32)


def gradient_norms(step, h0, steps, seed=0):
    """Run `h = step(t, h)` for `steps` steps; return |d(v · h_T) / d h_t| for t = 0..T."""
    v = np.random.default_rng(seed).normal(size=h0.shape).astype(np.float32)
    v /= np.linalg.norm(v)
    states = [ts.tensor(h0, requires_grad=True)]
    for t in range(steps):
        states.append(step(t, states[-1]).retain_grad())
    (states[-1] * ts.tensor(v)).sum().backward()
    return np.array([np.linalg.norm(h.grad) for h in states])


Q = orthogonal(UNITS, seed=1)
h0 = np.random.default_rng(2).normal(0, 0.5, (1, UNITS)).astype(np.float32)
distance = np.arange(STEPS, -1, -1)           # k = T - t for t = 0..T

figure, axes = plt.subplots()
rows = []
for s in (0.8, 0.95, 1.0, 1.05):
    U = ts.tensor(s * Q)
    norms = gradient_norms(lambda t, h: h @ U, h0, STEPS)
    axes.plot(distance, norms, label=f"s = {s}")
    axes.plot(distance, s ** distance, "k:", linewidth=1)
    worst = np.max(np.abs(norms / s ** distance - 1))
    rows.append([f"{s}", f"{norms[0]:.3e}", f"{s ** STEPS:.3e}", f"{worst:.1e}"])
axes.set(yscale="log", xlabel="distance k (steps back from the last state)", ylabel="gradient norm",
         title="Linear recurrence h(t) = h(t−1) · sQ; dotted: theory s^k")
axes.legend()
show(figure, "linear")
table(["s", f"measured at k = {STEPS}", f"s^{STEPS}", "largest relative difference, all k"], rows)

# %% [markdown]
# Measurement and theory coincide, to float32 rounding: each step multiplies the gradient by
# exactly \(s\). With \(s\) a little below one it fades; a little above, it grows without
# bound. Only \(s = 1\) carries it unchanged, and a learned \(U\) has no reason to stay there.
#
# ## 3. With the `tanh`: a real simple RNN
#
# Now the full step, \(h_t = \tanh(x_t W + h_{t-1} U + b)\), with random inputs and
# \(U = sQ\). The `tanh` slope \(1 - h^2\) multiplies in at every step. Plot the measured norms
# against the bound \(s^k\):

# %%
rng = np.random.default_rng(3)
inputs = rng.normal(size=(STEPS, 1, 4)).astype(np.float32)
W = ts.tensor(rng.normal(0, 0.5, (4, UNITS)).astype(np.float32))
b = ts.tensor(np.zeros(UNITS, np.float32))

figure, axes = plt.subplots()
rows = []
for s, colour in zip((0.5, 1.0, 2.0, 4.0), ("C0", "C1", "C2", "C3")):
    U = ts.tensor(s * Q)
    saturation = []

    def rnn_step(t, h):
        h_new = ts.tanh(ts.tensor(inputs[t]) @ W + h @ U + b)
        saturation.append(np.mean(np.abs(h_new.numpy()) > 0.99))
        return h_new

    norms = gradient_norms(rnn_step, h0, STEPS)
    axes.plot(distance, norms, color=colour, label=f"s = {s}")
    axes.plot(distance[distance <= 12], s ** distance[distance <= 12], ":", color=colour, linewidth=1)
    far, near = norms[0], norms[-11]          # k = STEPS and k = 10
    per_step = (far / near) ** (1 / (STEPS - 10)) if far > 0 else 0.0
    rows.append([f"{s}", f"{near:.2e}", f"{far:.2e}", f"{per_step:.3f}", f"{np.mean(saturation):.0%}"])
axes.set(yscale="log", ylim=(1e-30, None), xlabel="distance k", ylabel="gradient norm",
         title="Simple RNN, tanh(x W + h · sQ + b); dotted: the bound s^k")
axes.legend()
show(figure, "tanh")
table(["s", "gradient norm at k = 10", f"at k = {STEPS}", f"mean factor per step, k = 10 → {STEPS}",
       "units saturated (|h| > 0.99)"], rows)

# %% [markdown]
# Two things to read here. (A norm of 0 means the gradient fell below the smallest number
# float32 can hold.)
#
# * For \(s \le 1\) the gradient falls **faster** than \(s^k\): every step multiplies in a
#   `tanh` slope below one as well as \(s\).
# * For \(s > 1\) the gradient grows far more slowly than the bound \(s^k\) allows: the mean
#   factor per step is well below \(s\). Large weights push many units into saturation
#   (\(|h| \approx 1\), last column), where the slope \(1 - h^2\) is nearly zero, so those units
#   pass almost no gradient back. The remaining units still carry a growing gradient: large
#   weights trade vanishing for exploding, on a reduced scale, and neither helps learning.
#
# The usual cure for an exploding gradient is to **clip** its norm before each update, which
# tinyseq's optimizers do when given `clipnorm=`. Vanishing has no
# such quick fix: it is a property of the architecture.
#
# ## 4. Simple RNN versus LSTM, as Keras initialises them
#
# Keras initialises a recurrent layer's `kernel` with Glorot-uniform values, the
# `recurrent_kernel` as an orthogonal matrix, and, for the LSTM, the forget gate's bias to 1.
# tinyseq's cells do the same. Measure how the last output depends on each *input* \(x_t\), for
# both cells, averaged over a few random initialisations:

# %%
def input_gradients(cell, steps, seed):
    """|d(v · h_T) / d x_t| for every step t of a random sequence."""
    generator = np.random.default_rng(seed)
    xs = [ts.tensor(generator.normal(size=(1, 8)).astype(np.float32), requires_grad=True) for _ in range(steps)]
    states = cell.get_initial_state(1)
    for x in xs:
        output, states = cell(x, states)
    v = generator.normal(size=output.shape).astype(np.float32)
    (output * ts.tensor(v / np.linalg.norm(v))).sum().backward()
    return np.array([np.linalg.norm(x.grad) for x in xs])


seeds = range(pick(full=5, fast=2))
results = {}
for name, make in (("SimpleRNN", nn.SimpleRNNCell), ("LSTM", nn.LSTMCell)):
    runs = []
    for seed in seeds:
        ts.random.seed(seed)                       # the weights' initialisation
        runs.append(input_gradients(make(UNITS), STEPS, seed))
    results[name] = np.exp(np.mean(np.log(np.array(runs) + 1e-45), axis=0))   # geometric mean

figure, axes = plt.subplots()
k = np.arange(STEPS - 1, -1, -1)
for name, norms in results.items():
    axes.plot(k, norms, label=name)
axes.set(yscale="log", xlabel="distance k of the input from the last step", ylabel="|d h(T) / d x(T−k)|",
         title=f"{UNITS} units, Keras initialisation, geometric mean of {len(seeds)} runs")
axes.legend()
show(figure, "rnn-vs-lstm")
checkpoints = [c for c in (0, 10, 25, 50, 99) if c < STEPS]
table(["distance k"] + list(results), [[c] + [f"{results[n][STEPS - 1 - c]:.2e}" for n in results]
                                       for c in checkpoints])

# %% [markdown]
# The same numbers as an unrolled picture, one box per input step, coloured by the size of the
# gradient that reaches it from the last step (one colour per power of ten). Read each row from
# right to left, the way the gradient travels: the simple RNN's colours fade towards pale long
# before the LSTM's do.

# %%
show(viz.draw_unrolled_norms(results), "unrolled-norms")

# %% [markdown]
# The simple RNN's sensitivity to an input falls steeply with the input's distance from the
# end: gradient descent gets almost no signal telling it how inputs far in the past should have
# been used. The LSTM's falls far more slowly, because its cell state gives the gradient the
# short additive path of [tutorial 4](04-lstm.md), where each step multiplies it by a forget gate
# that starts near \(\sigma(1) \approx 0.73\) and can learn to open wider.
#
# [Tutorial 5](05-long-term-dependencies.md) shows what this means for learning: a task whose
# answer lies many steps away from its evidence, trained with both cells. And
# `tinyseq vanishing norms` runs a larger version of this tutorial's measurements, checking each
# against its theory ([Run an experiment](../how-to/run-an-experiment.md)).
#
# ## What you have seen
#
# * The gradient through \(k\) steps of an RNN is a product of \(k\) Jacobians
#   \(\operatorname{diag}(1 - h^2)\,U^\top\); its norm is at most \(\sigma_{\max}(U)^k\).
# * In a linear recurrence with \(U = sQ\) the gradient is exactly \(s^k\): it vanishes or
#   explodes exponentially.
# * The `tanh` makes it vanish faster; large weights saturate the units, which does not help.
# * At Keras's initialisation an LSTM keeps far more gradient over long distances than a simple
#   RNN.
#
# ## Exercises
#
# **`bptt`**: given a simple RNN's forward pass over \(T\) steps in plain numpy, write its
# backward pass by hand, step by step in reverse, and return the gradients of the kernel, the
# recurrent kernel, the bias and the initial state; the checker compares them with tinyseq's
# autograd.
#
# ```bash
# tinyseq exercise start bptt
# tinyseq exercise check bptt.py
# ```
#
# It trains the product of Jacobians of section 1 as code: each step multiplies the gradient
# by `(1 - h**2)` and by \(U^\top\), and the shared weights add up every step's share.
#
# **`gradient_clipping`**: write `clip_by_global_norm(grads, max_norm)`, the usual answer to
# the exploding side of this tutorial.
#
# ```bash
# tinyseq exercise start gradient_clipping
# tinyseq exercise check gradient_clipping.py
# ```
#
# It trains limiting the length of an update step while keeping its direction.
#
# ## Try this
#
# 1. **Predict an explosion.** In section 2 change `for s in (0.8, 0.95, 1.0, 1.05):` to
#    `for s in (0.8, 0.95, 1.0, 1.05, 1.1):`. Before running, work out the gradient norm the
#    table will show for `s = 1.1` at \(k = 100\) (\(1.1^{100}\), about \(1.4 \times 10^4\)),
#    then check it.
# 2. **Larger inputs.** In section 3 change the `0.5` in
#    `W = ts.tensor(rng.normal(0, 0.5, (4, UNITS))...` to `2.0`. Predict what happens to the
#    saturated share and to the gradient at \(k = 100\). Run it: about half the units saturate
#    for every \(s\), the gradient vanishes even for \(s = 2\), and \(s = 4\) no longer explodes:
#    saturated units pass almost no gradient, whatever the weights.
# 3. **An LSTM without its forget bias.** In section 4 change `("LSTM", nn.LSTMCell)` to
#    `("LSTM", lambda units: nn.LSTMCell(units, unit_forget_bias=False))`, so the forget gate
#    starts at \(\sigma(0) = 0.5\) instead of \(\sigma(1) \approx 0.73\). Predict the LSTM's column
#    of the table. Run it: its far gradient falls below the simple RNN's; the forget gate's
#    starting value matters that much, as [tutorial 4](04-lstm.md) explains.

