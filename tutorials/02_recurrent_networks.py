# %% [markdown]
# # Recurrent networks
#
# A sentence, a song, a week of website visits: many inputs are **sequences**, where the order
# matters and the length varies. A recurrent network reads a sequence one element at a time and
# carries a **state** from each step to the next: a summary of everything it has read so far.
#
# In this tutorial you will:
#
# 1. meet the picture every RNN text draws: a block \(A\), an input \(x_t\), a state \(h_t\),
# 2. write one RNN step from primitive operations and check it against tinyseq's `SimpleRNNCell`,
# 3. **unroll** it over a sequence, and see that unrolling is just a loop,
# 4. draw the unrolled graph, and see where backpropagation through time gets its name.

# %%
import graphviz
import numpy as np

import tinyseq as ts
from tinyseq import nn, viz
from tinyseq.course import show, table

# %% [markdown]
# ## 1. A block that feeds itself
#
# The recurrent block \(A\) takes two things at step \(t\): the new input \(x_t\) and its own
# previous state \(h_{t-1}\). It returns the new state \(h_t\), which is also its output. Drawn
# *rolled*, that is a block with a loop. Drawn *unrolled*, it is a chain of copies of the same
# block, one per element of the sequence, each passing its state to the next:

# %%
def rolled_and_unrolled(steps=4):
    """The textbook picture of a recurrent network, drawn with graphviz."""
    picture = graphviz.Digraph(graph_attr={"rankdir": "BT", "nodesep": "0.5", "fontname": "Helvetica"},
                               node_attr={"fontname": "Helvetica"}, edge_attr={"fontname": "Helvetica"})
    block = {"shape": "box", "style": "rounded,filled", "fillcolor": "#fde7a7", "width": "0.7"}
    state = {"shape": "plaintext", "fontsize": "16"}
    with picture.subgraph(name="cluster_rolled", graph_attr={"label": "rolled", "style": "dashed"}) as rolled:
        rolled.node("x", "xₜ", **state)
        rolled.node("A", "A", **block)
        rolled.node("h", "hₜ", **state)
        rolled.edges([("x", "A"), ("A", "h")])
        rolled.edge("A", "A", label=" hₜ₋₁", dir="forward", headport="e", tailport="e")
    with picture.subgraph(name="cluster_unrolled", graph_attr={"label": "unrolled", "style": "dashed"}) as unrolled:
        for t in range(1, steps + 1):
            unrolled.node(f"x{t}", f"x{t}", **state)
            unrolled.node(f"A{t}", "A", **block)
            unrolled.node(f"h{t}", f"h{t}", **state)
            unrolled.edges([(f"x{t}", f"A{t}"), (f"A{t}", f"h{t}")])
        with unrolled.subgraph() as same_row:  # the blocks in one row, passing the state along it
            same_row.attr(rank="same")
            for t in range(2, steps + 1):
                same_row.edge(f"A{t - 1}", f"A{t}", label=f" h{t - 1}")
    return picture


show(rolled_and_unrolled())

# %% [markdown]
# The two drawings are the same network. The important word is *same*: every copy of \(A\)
# uses the same weights. A recurrent network has a fixed number of parameters however long the
# sequence is, and what it learns at step 3 applies at step 300.
#
# ## 2. One step, from primitives
#
# The simplest choice of \(A\), the "simple RNN" (Elman, 1990), mixes the input and the previous
# state linearly and squashes the result:
#
# \[ h_t = \tanh\left(x_t W + h_{t-1} U + b\right) \]
#
# With a batch of inputs, \(x_t\) is a matrix of shape (batch, features), \(h_t\) is
# (batch, units), so \(W\) is (features, units), \(U\) is (units, units) and \(b\) has one entry
# per unit. In code, one line per term, each part in a `name_scope` so the drawing can label it:

# %%
def rnn_step(x_t, h_previous, W, U, b):
    """One simple-RNN step from primitive operations."""
    with ts.name_scope("input"):
        from_input = x_t @ W
    with ts.name_scope("recurrence"):
        from_state = h_previous @ U
    with ts.name_scope("new_state"):
        return ts.tanh(from_input + from_state + b)


rng = np.random.default_rng(0)
batch, features, units = 2, 3, 4
W = ts.tensor(rng.normal(0, 0.5, (features, units)).astype(np.float32), requires_grad=True)
U = ts.tensor(rng.normal(0, 0.5, (units, units)).astype(np.float32), requires_grad=True)
b = ts.tensor(np.zeros(units, np.float32), requires_grad=True)

x_t = ts.tensor(rng.normal(size=(batch, features)).astype(np.float32))
h_previous = ts.tensor(np.zeros((batch, units), np.float32))
h_t = rnn_step(x_t, h_previous, W, U, b)
print("x_t:", x_t.shape, "  h_(t-1):", h_previous.shape, "  ->  h_t:", h_t.shape)
show(viz.draw(h_t, labels={x_t: "x(t)", h_previous: "h(t−1)", h_t: "h(t)"},
              params={"W": W, "U": U, "b": b}, title="One simple-RNN step"))

# %% [markdown]
# tinyseq's own `nn.SimpleRNNCell` is written the same way, with Keras's names for the weights:
# `kernel` is \(W\), `recurrent_kernel` is \(U\), `bias` is \(b\). Give it our weights and it
# must compute the same numbers:

# %%
cell = nn.SimpleRNNCell(units)
cell(x_t, [h_previous])                    # the first call creates (builds) the weights
cell.set_weights([W.numpy(), U.numpy(), b.numpy()])
output, [h_from_cell] = cell(x_t, [h_previous])
print("weights:", [(name, p.shape) for name, p in cell.named_parameters()])
print("largest difference from rnn_step:", np.max(np.abs(h_from_cell.numpy() - h_t.numpy())))

# %% [markdown]
# ## 3. Unrolling is a loop
#
# To read a whole sequence, start from a zero state and apply the step to each element in turn.
# A batch of sequences is a 3-D array of shape **(batch, timesteps, features)**; step \(t\)
# reads the slice `x[:, t]`. ([Tutorial 7](07-samples-timesteps-features.md) is all about that
# shape.)

# %%
timesteps = 5
sequences = ts.tensor(rng.normal(size=(batch, timesteps, features)).astype(np.float32))

h = ts.tensor(np.zeros((batch, units), np.float32))
states = []
for t in range(timesteps):
    h = rnn_step(sequences[:, t], h, W, U, b)
    states.append(h)
print(f"{len(states)} states of shape {states[0].shape}; the last one is the summary of each sequence:")
print(np.round(states[-1].numpy(), 3))

# %% [markdown]
# That loop is the whole of "unrolling". tinyseq's `nn.SimpleRNN` layer, given
# `implementation="cells"`, runs exactly this loop around a `SimpleRNNCell`. (By default it runs
# a fused kernel instead, which computes the same numbers faster: that is
# [tutorial 8](08-fused-kernel.md).) With `return_sequences=True` it returns every \(h_t\),
# otherwise only the last one, which is what a classifier usually reads:

# %%
layer = nn.SimpleRNN(units, return_sequences=True, implementation="cells")
layer(sequences)                           # build the weights, then use ours
layer.set_weights([W.numpy(), U.numpy(), b.numpy()])
all_states = layer(sequences)
print("SimpleRNN output:", all_states.shape, "(batch, timesteps, units)")
print("largest difference from our loop:",
      max(np.max(np.abs(all_states.numpy()[:, t] - states[t].numpy())) for t in range(timesteps)))

# %% [markdown]
# ## 4. The unrolled graph
#
# Draw three steps of our loop, each step in a `t=k` scope. Follow the arrows: the weights
# \(W\), \(U\) and \(b\) (drawn as cylinders, because they are parameters) feed *every* step,
# and the state threads through the steps one after another. This time the inputs ask for
# gradients too, so that we can see below how each of them influences the last state.

# %%
steps = 3
xs = [ts.tensor(rng.normal(size=(1, features)).astype(np.float32), requires_grad=True) for _ in range(steps)]
h = h0 = ts.tensor(np.zeros((1, units), np.float32))
labels = {h0: "h(0)"}
for t, x in enumerate(xs, 1):
    with ts.name_scope(f"t={t}"):
        h = rnn_step(x, h, W, U, b)
    labels.update({x: f"x({t})", h: f"h({t})"})
show(viz.draw(h, labels=labels, params={"W": W, "U": U, "b": b}, rankdir="TB",
              title=f"A simple RNN unrolled over {steps} steps"))

# %% [markdown]
# This is why training a recurrent network is called **backpropagation through time**: backward
# on this graph is ordinary backpropagation, but the graph is the loop written out, so the
# gradient travels back through the steps. Because the weights are shared, each weight's
# gradient is the *sum* of what every step contributes to it. And each input's gradient reaches
# it through a different number of steps:

# %%
for parameter in (W, U, b):
    parameter.zero_grad()
h.sum().backward()
table(["input", f"steps between it and h({steps})", f"norm of d h({steps}) / d input"],
      [[f"x({t})", steps - t, f"{np.linalg.norm(x.grad):.4f}"] for t, x in enumerate(xs, 1)])

# %% [markdown]
# The gradient of \(x_1\) passed through the recurrence twice, each time multiplied by \(U\)
# and by a `tanh` derivative; the gradient of \(x_3\) through none, and already after two
# steps it is a small fraction of \(x_3\)'s. Over a hundred steps, that repeated multiplication
# decides what the network can learn: that is
# [tutorial 3, vanishing gradients](03-vanishing-gradients.md).
#
# ## What you have seen
#
# * A recurrent network applies one block \(A\), with one set of weights, at every step,
#   carrying a state \(h_t\) from step to step.
# * The simple RNN step is \(h_t = \tanh(x_t W + h_{t-1} U + b)\): two matrix products, an
#   addition and a `tanh`.
# * Unrolling is a Python loop over the time axis of a (batch, timesteps, features) array; the
#   `SimpleRNN` layer is that loop around a `SimpleRNNCell`.
# * Backward through the unrolled graph is backpropagation through time; shared weights collect
#   a gradient from every step.
#
# ## Exercises
#
# **`rnn_cell`**: write `rnn_step(x, h, kernel, recurrent_kernel, bias) -> h_new`, the step of
# section 2 with Keras's names for the weights, from tinyseq's primitive ops:
#
# ```bash
# tinyseq exercise start rnn_cell
# tinyseq exercise check rnn_cell.py
# ```
#
# It trains reading an equation into code with the right shapes: which weight multiplies the
# input, which the state, and where the bias broadcasts.
#
# ## Try this
#
# 1. **Unroll further.** In section 4 change `steps = 3` to `steps = 12`. Predict how the
#    gradient of `x(1)` compares with that of `x(12)`. Run it: the gradient shrinks as the
#    distance grows, to about a thousandth of the last input's at 11 steps back (not evenly:
#    each step multiplies by a different `tanh` slope).
# 2. **Smaller and larger recurrent weights.** In section 2 change the `0.5` in
#    `U = ts.tensor(rng.normal(0, 0.5, (units, units))...` to `0.1`, run, then to `1.5`. Predict
#    for each whether `x(1)`'s gradient in section 4's table grows or shrinks. With `0.1` it
#    shrinks (each step multiplies by a small \(U\)); with `1.5` it does not grow either: look
#    at the printed last state in section 3, where the units sit near ±1, the flat ends of
#    `tanh`, whose slope there is close to 0, so even `x(3)`'s gradient falls.
# 3. **A wrong step.** In `rnn_step` change `ts.tanh` to `ts.sigmoid`. Predict what the check
#    against `SimpleRNNCell` prints: the largest difference is no longer 0 but of the order of
#    the values themselves. This is how the exercise's checker finds a wrong activation.
