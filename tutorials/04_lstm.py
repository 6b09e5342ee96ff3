# %% [markdown]
# # The LSTM
#
# The simple RNN of [tutorial 2](02-recurrent-networks.md) rewrites its whole state at every
# step: \(h_t = \tanh(x_t W + h_{t-1} U + b)\). Whatever it should remember from step 1 must
# survive being multiplied by \(U\) and squashed by `tanh` at every step after, and
# [tutorial 3](03-vanishing-gradients.md) measured how fast the gradient of such a memory fades.
#
# The **Long Short-Term Memory** (Hochreiter and Schmidhuber, 1997; the forget gate was added by
# Gers, Schmidhuber and Cummins, 2000) keeps a second state, the **cell state** \(c_t\), that is
# changed only by *adding* to it and by *scaling* it, under the control of learned **gates**.
#
# In this tutorial you will:
#
# 1. read the LSTM's equations, one gate at a time,
# 2. write the cell from primitive operations, line by line, and check it against tinyseq's
#    `LSTMCell`,
# 3. see the cell as a picture and as its graph of operations, every gate in its own box, and
# 4. measure why the cell state is a good memory: its gradient is the product of the forget gates.

# %%
import numpy as np

import tinyseq as ts
from tinyseq import nn, viz
from tinyseq.course import show, table, use_plain_matplotlib

plt = use_plain_matplotlib()

# %% [markdown]
# ## 1. The equations
#
# At step \(t\) the LSTM reads the input \(x_t\) and the previous states \(h_{t-1}\) (the
# output, or "hidden state") and \(c_{t-1}\) (the cell state). Four small layers look at
# \(x_t\) and \(h_{t-1}\); each has its own weights \(W_\ast\), \(U_\ast\) and \(b_\ast\):
#
# \[
# \begin{aligned}
# i_t &= \sigma\left(x_t W_i + h_{t-1} U_i + b_i\right) && \text{input gate: how much of the candidate to write} \\
# f_t &= \sigma\left(x_t W_f + h_{t-1} U_f + b_f\right) && \text{forget gate: how much of the old cell state to keep} \\
# g_t &= \tanh\left(x_t W_c + h_{t-1} U_c + b_c\right) && \text{candidate: new values that could be written} \\
# o_t &= \sigma\left(x_t W_o + h_{t-1} U_o + b_o\right) && \text{output gate: how much of the cell state to show}
# \end{aligned}
# \]
#
# Then the two states are updated, where \(\odot\) multiplies element by element:
#
# \[
# \begin{aligned}
# c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
# h_t &= o_t \odot \tanh(c_t)
# \end{aligned}
# \]
#
# The sigmoid \(\sigma\) squashes to \((0, 1)\), so each gate is a dial per unit between
# "closed" and "open". A forget gate of 1 and an input gate of 0 keep \(c_t = c_{t-1}\)
# exactly, however many steps pass.
#
# As a picture: the cell state runs along the top from \(c_{t-1}\) to \(c_t\). The forget
# gate scales it (keep), the input gate times the candidate adds to it (write), and the output
# gate reads a `tanh` of it out as \(h_t\). All four gates are computed from one projection
# \(z\) of \(x_t\) and \(h_{t-1}\), split into four blocks. Each part has the colour its box
# will have in the operation-level graph of section 3.

# %%
show(viz.draw_cell_concept("lstm"), "lstm-concept")

# %% [markdown]
# ## 2. The cell from primitives, line by line
#
# tinyseq stores the weights as Keras does: the four \(W_\ast\) side by side in one `kernel`
# of shape (features, 4 · units), the four \(U_\ast\) in one `recurrent_kernel` of shape
# (units, 4 · units), the four biases in one `bias`, always in the order \(i, f, c, o\). One
# matrix product per input then computes all four gates' pre-activations at once, and
# `ts.split` cuts the columns into the four blocks \(z_i, z_f, z_c, z_o\) (named, so that the
# drawing can label them). Here is the whole step, each equation in its own `name_scope`:

# %%
def lstm_step(x_t, h_previous, c_previous, kernel, recurrent_kernel, bias):
    """One LSTM step from primitive operations (Keras's weight layout, gates i, f, c, o)."""
    with ts.name_scope("projection"):
        z = x_t @ kernel + h_previous @ recurrent_kernel + bias   # all four gates at once
        z_i, z_f, z_c, z_o = ts.split(z, 4, names=("z_i", "z_f", "z_c", "z_o"))
    with ts.name_scope("input_gate"):
        i = ts.sigmoid(z_i)
    with ts.name_scope("forget_gate"):
        f = ts.sigmoid(z_f)
    with ts.name_scope("candidate"):
        g = ts.tanh(z_c)
    with ts.name_scope("output_gate"):
        o = ts.sigmoid(z_o)
    with ts.name_scope("cell_state"):
        c = f * c_previous + i * g
    with ts.name_scope("hidden_state"):
        h = o * ts.tanh(c)
    return h, c


# %% [markdown]
# Now the same step with tinyseq's `nn.LSTMCell`, given the same weights. The first call of a
# layer creates its weights (Keras calls that *building* it); `set_weights` then replaces them
# with ours.

# %%
rng = np.random.default_rng(0)
batch, features, units = 2, 3, 4
kernel = ts.tensor(rng.normal(0, 0.5, (features, 4 * units)).astype(np.float32), requires_grad=True)
recurrent_kernel = ts.tensor(rng.normal(0, 0.5, (units, 4 * units)).astype(np.float32), requires_grad=True)
bias = ts.tensor(rng.normal(0, 0.1, 4 * units).astype(np.float32), requires_grad=True)
x_t = ts.tensor(rng.normal(size=(batch, features)).astype(np.float32))
h_previous = ts.tensor(rng.normal(0, 0.5, (batch, units)).astype(np.float32))
c_previous = ts.tensor(rng.normal(0, 0.5, (batch, units)).astype(np.float32))

h_t, c_t = lstm_step(x_t, h_previous, c_previous, kernel, recurrent_kernel, bias)

cell = nn.LSTMCell(units)
cell(x_t, [h_previous, c_previous])
cell.set_weights([kernel.numpy(), recurrent_kernel.numpy(), bias.numpy()])
_, (h_cell, c_cell) = cell(x_t, [h_previous, c_previous])
print("weights:", [(name, p.shape) for name, p in cell.named_parameters()])
print("largest difference in h:", np.max(np.abs(h_cell.numpy() - h_t.numpy())))
print("largest difference in c:", np.max(np.abs(c_cell.numpy() - c_t.numpy())))

# %% [markdown]
# An LSTM has four times the weights of a simple RNN of the same size, one set per gate:
# \(4\,(\text{features} \cdot \text{units} + \text{units}^2 + \text{units})\).

# %%
parameters = sum(p.size for p in cell.parameters())
formula = 4 * (features * units + units * units + units)
print(f"LSTMCell({units}) on {features} features: {parameters} parameters; the formula gives {formula}")

# %% [markdown]
# ## 3. The gate graph
#
# Drawn, the step shows its structure: the projection computes all four gates' inputs, the
# three sigmoid gates and the `tanh` candidate each sit in their own box, and the two states
# come out at the end. Parameters are the cylinders. The boxes have the colours of the picture
# in section 1, so each part of the picture can be found among the operations.

# %%
labels = {x_t: "x(t)", h_previous: "h(t−1)", c_previous: "c(t−1)", h_t: "h(t)", c_t: "c(t)"}
show(viz.draw([h_t, c_t], labels=labels,
              params={"kernel": kernel, "recurrent_kernel": recurrent_kernel, "bias": bias},
              rankdir="TB", title="One LSTM step, gate by gate"))

# %% [markdown]
# Follow \(c_{t-1}\) to \(c_t\): it meets one multiplication (by the forget gate) and one
# addition. No matrix, no `tanh`. That short path is the LSTM's whole idea.
#
# ## 4. Why the cell state remembers
#
# Differentiate the cell-state update with respect to the previous cell state: since
# \(c_t = f_t \odot c_{t-1} + i_t \odot g_t\),
#
# \[ \frac{\partial c_t}{\partial c_{t-1}} = f_t \quad \text{(element by element, along this path)} \]
#
# so over \(T\) steps the gradient along the cell-state path is the product of the forget gates,
# \(\prod_{t=1}^{T} f_t\). When the forget gates sit near 1, the product stays near 1 and the
# memory, and its gradient, survive.
#
# Check it numerically. The cell state also influences later steps through \(h_t\) (which
# feeds the gates), a second path that makes the formula above only part of the story. To see
# the cell-state path alone, the experiment cuts the other one: it passes `h.detach()`, a copy
# of \(h\) that backward does not go through, to the next step. Then it runs `steps` steps,
# keeps the forget gates, backward from the last cell state to the first, and compares with the
# product. Keras starts the forget gate's bias at 1 (`unit_forget_bias=True`) so that a new
# LSTM remembers by default; the table also tries other starting biases.

# %%
def forget_gate_experiment(forget_bias, steps=50, units=8, seed=0):
    """Run an LSTM over random inputs, backward only along the cell state; return the mean over
    units of d c_T / d c_0 and of the product of the forget gates."""
    generator = np.random.default_rng(seed)
    kernel = ts.tensor(generator.normal(0, 0.3, (1, 4 * units)).astype(np.float32))
    recurrent = ts.tensor(generator.normal(0, 0.3, (units, 4 * units)).astype(np.float32))
    bias_values = np.zeros(4 * units, np.float32)
    bias_values[units:2 * units] = forget_bias          # the forget gate's block
    bias = ts.tensor(bias_values)
    h = ts.tensor(np.zeros((1, units), np.float32))
    c0 = c = ts.tensor(np.zeros((1, units), np.float32), requires_grad=True)
    forget_product = np.ones((1, units), np.float32)
    for _ in range(steps):
        x = ts.tensor(generator.normal(size=(1, 1)).astype(np.float32))
        z = (x @ kernel + h @ recurrent + bias).numpy()
        forget_product *= 1 / (1 + np.exp(-z[:, units:2 * units]))   # this step's forget gate
        h, c = lstm_step(x, h.detach(), c, kernel, recurrent, bias)
    c.sum().backward()
    return c0.grad.mean(), forget_product.mean()


rows = []
for forget_bias in (-1.0, 0.0, 1.0, 3.0, 5.0):
    gradient, product = forget_gate_experiment(forget_bias)
    rows.append([f"{forget_bias:+.0f}", f"{1 / (1 + np.exp(-forget_bias)):.3f}",
                 f"{gradient:.3e}", f"{product:.3e}"])
table(["forget bias", "σ(bias)", "measured d c(50) / d c(0)", "product of forget gates"], rows)

# %% [markdown]
# The measured gradient is the product of the forget gates, to float32 precision: vanishingly
# small when the gates start half-closed, close to 1 when they start wide open. An LSTM can *learn* to hold its
# forget gates open for as long as something needs remembering, and to close them when it
# should forget.
#
# Here is the same measurement step by step: the gradient of \(c_{50}\) with respect to each
# earlier cell state \(c_t\), along the cell-state path, for three forget biases.

# %%
def gradient_through_time(forget_bias, steps=50, units=8, seed=0):
    generator = np.random.default_rng(seed)
    kernel = ts.tensor(generator.normal(0, 0.3, (1, 4 * units)).astype(np.float32))
    recurrent = ts.tensor(generator.normal(0, 0.3, (units, 4 * units)).astype(np.float32))
    bias_values = np.zeros(4 * units, np.float32)
    bias_values[units:2 * units] = forget_bias
    bias = ts.tensor(bias_values)
    h = ts.tensor(np.zeros((1, units), np.float32))
    c = ts.tensor(np.zeros((1, units), np.float32), requires_grad=True)
    cells = [c]
    for _ in range(steps):
        x = ts.tensor(generator.normal(size=(1, 1)).astype(np.float32))
        h, c = lstm_step(x, h.detach(), c, kernel, recurrent, bias)
        cells.append(c.retain_grad())
    c.sum().backward()
    return [np.abs(state.grad).mean() for state in cells]


figure, axes = plt.subplots()
for forget_bias in (0.0, 1.0, 3.0):
    axes.plot(gradient_through_time(forget_bias), label=f"forget bias {forget_bias:+.0f}")
axes.set(yscale="log", xlabel="step t", ylabel="mean |d c(50) / d c(t)|",
         title="How far back the cell state's gradient reaches")
axes.legend()
show(figure, "forget-gate-gradient")

# %% [markdown]
# Read the plot from right to left, the way the gradient travels: starting at 1 at step 50, it
# shrinks by a factor of about \(\sigma(\text{bias})\) per step. With the gates open it barely
# shrinks at all. [Tutorial 5](05-long-term-dependencies.md) puts this to work: an RNN and an
# LSTM trained on tasks where the answer depends on something seen many steps earlier.
#
# ## What you have seen
#
# * The LSTM has a cell state \(c_t\), changed only through the forget gate (scaling) and the
#   input gate times a candidate (adding); its output \(h_t\) is a gated view of \(c_t\).
# * In Keras's layout, one `kernel`, one `recurrent_kernel` and one `bias` hold all four gates,
#   in the order \(i, f, c, o\); `lstm_step` above computes exactly what `nn.LSTMCell` does.
# * Along the cell state, \(\partial c_t / \partial c_{t-1} = f_t\): the gradient over many steps
#   is the product of the forget gates, which the network learns.
#
# ## Exercises
#
# **`lstm_cell`**: write `lstm_step(x, h, c, kernel, recurrent_kernel, bias) -> (h_new, c_new)`
# in Keras's layout, gate order \(i, f, c, o\), from tinyseq's primitive ops:
#
# ```bash
# tinyseq exercise start lstm_cell
# tinyseq exercise check lstm_cell.py
# ```
#
# It trains the equations of section 1 as code, with the four gates' columns in the right
# blocks; the checker names the gate whose columns are wrong.
#
# ## Try this
#
# 1. **Gates wide open.** In section 4 change `for forget_bias in (-1.0, 0.0, 1.0, 3.0, 5.0):`
#    to `for forget_bias in (-1.0, 0.0, 1.0, 3.0, 5.0, 10.0):`. Predict the new row before you
#    run: \(\sigma(10)^{50} \approx 0.998\). The measured gradient is that product again.
# 2. **Both paths.** In `forget_gate_experiment` change `h, c = lstm_step(x, h.detach(), c,
#    kernel, recurrent, bias)` to pass `h` instead of `h.detach()`, so that backward also takes
#    the path through \(h_t\) and the gates. Predict whether the measured gradient still equals
#    the product of the forget gates. Run it: it no longer does; it is larger in size in every
#    row, and for the widest-open gates even changes sign. The product of the forget gates is
#    the cell-state path only, the one an LSTM can keep open.
# 3. **A swapped gate.** In `lstm_step` change `i = ts.sigmoid(z_i)` to
#    `i = ts.sigmoid(z_f)`, the input gate reading the forget gate's columns. Predict
#    what the comparison with `nn.LSTMCell` in section 2 prints: differences in both \(h\)
#    and \(c\), of the order of a tenth, where there were none.

