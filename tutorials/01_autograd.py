# %% [markdown]
# # Autograd from scratch
#
# Every neural network in these tutorials learns the same way: compute a loss, ask for the
# gradient of that loss with respect to every weight, and nudge each weight downhill. The part
# that computes the gradients is called **automatic differentiation**, *autograd* for short.
# tinyseq's autograd is a few hundred lines of Python over numpy, small enough to read in one
# sitting (`tinyseq/tensor.py` and `tinyseq/ops.py`).
#
# In this tutorial you will:
#
# 1. make **tensors** and see what they remember about how they were computed,
# 2. look at the **graph** those memories form,
# 3. run **backward** and check it against a derivative worked out by hand,
# 4. **draw** the graph, with the gradients painted on it,
# 5. use **gradcheck** to catch a wrong derivative, and
# 6. put it together: fit a line with nothing but tensors and `backward()`.

# %%
import numpy as np

import tinyseq as ts
from tinyseq import viz
from tinyseq.course import show, table, use_plain_matplotlib

plt = use_plain_matplotlib()

# %% [markdown]
# ## 1. Tensors
#
# A tinyseq `Tensor` is a numpy array plus three things autograd needs:
# `requires_grad` (should gradients flow to me?), `grad` (where my gradient is stored after
# `backward()`), and a note of the operation that produced it. Python numbers and lists become
# `float32`, the type neural networks usually train in.

# %%
x = ts.tensor([1.0, 2.0, 3.0], requires_grad=True)
print(x)
print("shape:", x.shape, " dtype:", x.dtype, " requires_grad:", x.requires_grad)
print("the numpy array inside:", repr(x.numpy()))

# %% [markdown]
# Arithmetic works as in numpy, with broadcasting. The result is a new tensor that knows which
# operation made it (`op`) and from which tensors (`parents`). That record is all autograd
# needs later.

# %%
w = ts.tensor(0.5, requires_grad=True)
b = ts.tensor(-1.0, requires_grad=True)
z = x * w + b
print("z =", z)
print("z was made by:", z.op)
print("from:", [parent.op for parent in z.parents])

# %% [markdown]
# A tensor made directly from data is a **leaf** (`op == "leaf"`, no parents). The leaves with
# `requires_grad=True` are the things we will want gradients for: later, the weights of a
# network.
#
# ## 2. The graph
#
# Let us finish a small computation: a "neuron" with a \(\tanh\) activation, summed to a single
# number so we have one quantity to differentiate,
#
# \[ y = \sum_i \tanh(w\,x_i + b). \]
#
# Each operation adds one node to a **computation graph**. `viz.topological_order` lists the
# nodes so that every node comes after its inputs: the order in which they were computed.

# %%
y = ts.tanh(z).sum()
for node in viz.topological_order(y):
    inputs = ", ".join(parent.op for parent in node.parents) or "-"
    print(f"{node.op:>5}  shape {str(node.shape):6}  inputs: {inputs}")

# %% [markdown]
# The same graph, drawn, with data flowing left to right. Green boxes are the leaves, pink
# circles are element-wise arithmetic, yellow boxes are the other operations, and the node with
# the bold border is the output. Each node shows its shape; `labels` gives tensors readable
# names.

# %%
names = {x: "x", w: "w", b: "b", y: "y"}
show(viz.draw(y, labels=names, title="y = sum(tanh(w·x + b))"))

# %% [markdown]
# ## 3. Backward
#
# `y.backward()` computes \(\partial y / \partial t\) for every leaf \(t\) that requires a
# gradient, and stores it in `t.grad`. It walks the graph from the output back to the leaves,
# in the reverse of the order printed above, and at each node applies that operation's local
# derivative: the **chain rule**, one node at a time. This is *reverse-mode* differentiation,
# and its cost is about that of one more forward pass, however many weights there are.

# %%
y.backward()
print("dy/dx =", x.grad)
print("dy/dw =", w.grad)
print("dy/db =", b.grad)

# %% [markdown]
# Are these right? Work it out by hand. With \(z_i = w x_i + b\) and
# \(\tanh'(z) = 1 - \tanh^2(z)\):
#
# \[
# \frac{\partial y}{\partial x_i} = w\,(1 - \tanh^2 z_i), \qquad
# \frac{\partial y}{\partial w} = \sum_i x_i\,(1 - \tanh^2 z_i), \qquad
# \frac{\partial y}{\partial b} = \sum_i (1 - \tanh^2 z_i).
# \]
#
# The same formulas in numpy:

# %%
xs, wv, bv = x.numpy(), w.item(), b.item()
local = 1 - np.tanh(wv * xs + bv) ** 2          # tanh'(z) at each z_i
by_hand = {"x": wv * local, "w": np.sum(xs * local), "b": np.sum(local)}
for name, tensor in [("x", x), ("w", w), ("b", b)]:
    difference = np.max(np.abs(tensor.grad - by_hand[name]))
    print(f"dy/d{name}: by hand {np.array2string(np.asarray(by_hand[name]), precision=6)}, "
          f"largest difference from autograd {difference:.1e}")

# %% [markdown]
# Two details matter when you train with this:
#
# * **`w` and `b` were broadcast** over the three elements of `x`, so their gradients are *sums*
#   over those elements. The engine does that reduction for every op, in one place.
# * **Gradients accumulate.** A second backward pass *adds* to `.grad` (useful when one tensor
#   feeds several places); a training loop therefore clears the gradients after each step.
#   Backward also frees the values the graph saved, so to run it twice through the same graph
#   you ask for `retain_graph=True` the first time.

# %%
y2 = ts.tanh(x * w + b).sum()
y2.backward(retain_graph=True)
print("after a second backward, dy/db =", b.grad, "(twice the value above)")
y2.backward()
print("after a third:              dy/db =", b.grad)
for t in (x, w, b):
    t.zero_grad()
print("after zero_grad():           b.grad =", b.grad)

# %% [markdown]
# ## 4. Drawing the graph, with gradients
#
# For a graph to explain itself, two more things help. `ts.name_scope("...")` tags every
# operation created inside it; the drawing groups a scope's operations into one labelled box.
# And after a backward pass, `grad_heatmap=True` colours every node by the size (norm) of its
# gradient, on a logarithmic scale. `viz.retain_grads(loss)` asks backward to keep the
# gradients of the intermediate nodes too, not only of the leaves.
#
# Here is a stack of four small layers, each in its own scope, on a batch of eight inputs:

# %%
rng = np.random.default_rng(0)
inputs = ts.tensor(rng.normal(size=(8, 4)).astype(np.float32))
weights = [ts.tensor(rng.normal(size=(4, 4)).astype(np.float32), requires_grad=True) for _ in range(4)]
hidden = inputs
for number, weight in enumerate(weights, 1):
    with ts.name_scope(f"layer_{number}"):
        hidden = ts.sigmoid(hidden @ weight)
loss = hidden.mean()

viz.retain_grads(loss)
loss.backward()
labels = {inputs: "inputs", loss: "loss"} | {weight: f"W{k}" for k, weight in enumerate(weights, 1)}
show(viz.draw(loss, labels=labels, grad_heatmap=True, rankdir="TB",
              title="Gradient norms after loss.backward()"))

# %%
for number, weight in enumerate(weights, 1):
    print(f"layer {number}: gradient norm of W{number} = {np.linalg.norm(weight.grad):.2e}")

# %% [markdown]
# Reading the colours and the numbers: the further a weight sits from the loss, the more
# operations its gradient has passed through on the way back, and each `sigmoid` multiplied it
# by a derivative of at most \(1/4\). So the first layer receives by far the smallest gradient.
# Keep that picture in mind: in a recurrent network the path is as long as the sequence, and
# [tutorial 3](03-vanishing-gradients.md) measures what happens to it.
#
# ## 5. Checking gradients: gradcheck
#
# The derivative of each operation in `tinyseq/ops.py` is written by hand, next to its
# forward computation. A slip there gives wrong gradients *silently*: training just goes worse.
# The classic check compares each analytic derivative with a numerical estimate from
# **central differences**,
#
# \[ \frac{\partial f}{\partial x_i} \approx \frac{f(x + \varepsilon e_i) - f(x - \varepsilon e_i)}{2\varepsilon}, \]
#
# in float64 so that rounding does not drown the comparison. `ts.gradcheck(fn, *inputs)` does
# it for every element of every input and reports the worst one:

# %%
result = ts.gradcheck(lambda a, b: (ts.tanh(a @ b) * a.sum()).mean(),
                      rng.normal(size=(2, 3)), rng.normal(size=(3, 2)))
print(result)

# %% [markdown]
# Now make a mistake on purpose. `ts.ops.primitive` turns a function into an operation: it
# receives numpy arrays and returns the output together with its backward function. Here is
# \(a^3\) with a wrong derivative (\(2a^2\) instead of \(3a^2\)):

# %%
@ts.ops.primitive(1)
def cube(a):
    return a ** 3, lambda grad: (grad * 2 * a ** 2,)     # wrong: d(a³)/da = 3a²


result = ts.gradcheck(lambda a: cube(a).sum(), [0.5, -1.0, 2.0], raise_on_failure=False)
print(result)
print("the ratio analytic / numeric:", round(result.analytic / result.numeric, 4))

# %% [markdown]
# gradcheck catches it: the analytic gradient is two thirds of the numeric one, exactly the
# factor of the bug. Every operation in tinyseq is tested this way (`tests/test_ops_gradcheck.py`).
# Fix the derivative and the check passes:

# %%
@ts.ops.primitive(1)
def cube(a):
    return a ** 3, lambda grad: (grad * 3 * a ** 2,)


print(ts.gradcheck(lambda a: cube(a).sum(), [0.5, -1.0, 2.0]))

# %% [markdown]
# ## 6. Putting it together: fitting a line
#
# With tensors and `backward()` you can already train a model. Here are noisy points around the
# line \(y = 2x - 1\); we start from \(w = 0, b = 0\), and repeat: compute the mean squared
# error, backward, step each parameter against its gradient, clear the gradients. Updating the
# parameters happens inside `ts.no_grad()`, so the update itself is not recorded in a graph.

# %%
data_x = np.linspace(-1, 1, 50, dtype=np.float32)
data_y = 2 * data_x - 1 + np.random.default_rng(1).normal(0, 0.2, 50).astype(np.float32)
points_x, points_y = ts.tensor(data_x), ts.tensor(data_y)

w = ts.tensor(0.0, requires_grad=True)
b = ts.tensor(0.0, requires_grad=True)
learning_rate, steps = 0.2, 100
history = []
for step in range(steps):
    loss = ((points_x * w + b - points_y) ** 2).mean()
    loss.backward()
    with ts.no_grad():
        for parameter in (w, b):
            parameter.data -= learning_rate * parameter.grad
            parameter.zero_grad()
    history.append(loss.item())

least_squares = np.polyfit(data_x, data_y, 1)
table(["", "w", "b", "mean squared error"],
      [["gradient descent", f"{w.item():.4f}", f"{b.item():.4f}", f"{history[-1]:.4f}"],
       ["least squares (numpy.polyfit)", f"{least_squares[0]:.4f}", f"{least_squares[1]:.4f}",
        f"{np.mean((np.polyval(least_squares, data_x) - data_y) ** 2):.4f}"]])

# %%
figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
left.plot(history)
left.set(xlabel="step", ylabel="mean squared error", yscale="log", title="Loss")
right.scatter(data_x, data_y, s=12, alpha=0.6, label="data")
right.plot(data_x, w.item() * data_x + b.item(), color="C3", label=f"fit: {w.item():.2f}x {b.item():+.2f}")
right.set(xlabel="x", ylabel="y", title="The fitted line")
right.legend()
show(figure, "line-fit")

# %% [markdown]
# Gradient descent lands on the least-squares answer that numpy computes in closed form. Nothing
# in the loop knew it was fitting a line: swap in a different loss or model and the same
# four lines train it.
#
# ## What you have seen
#
# * A tensor records the operation and inputs that made it; together these records form the
#   computation graph.
# * `backward()` walks that graph in reverse, applying the chain rule at each node, and leaves
#   \(\partial\,\text{output} / \partial\,\text{leaf}\) in each leaf's `.grad`. Gradients of
#   broadcast inputs are summed, and gradients accumulate until cleared.
# * `viz.draw` shows the graph, grouped by `name_scope`, optionally coloured by gradient size.
# * `gradcheck` compares backward with central differences and catches a wrong derivative.
#
# Next, [recurrent networks](02-recurrent-networks.md): the same engine, applied step after step
# along a sequence.
#
# ## Exercises
#
# **`broadcast_backward`**: write the backward of division when its inputs were broadcast,
# reducing the gradient to each input's shape (the summing of section 3, done by you). Start it,
# fill in the file, and check it:
#
# ```bash
# tinyseq exercise start broadcast_backward
# tinyseq exercise check broadcast_backward.py
# ```
#
# It trains the one step every op's backward shares: a broadcast input collects its gradient
# from every place it was used.
#
# ## Try this
#
# 1. **A step too far.** In section 6 change `learning_rate, steps = 0.2, 100` to
#    `learning_rate, steps = 1.1, 100`. Predict before you run: do both parameters still reach
#    the least-squares answer? Run it: `w` still ends near 2, while `b` ends in the tens of
#    millions. The mean squared error curves twice as steeply along `b` as along `w` here
#    (\(2\) against \(2\,\overline{x^2} \approx 0.7\)), and gradient descent diverges along a
#    direction once the rate passes 2 divided by its curvature: 1.0 for `b`. Try `0.9` too.
# 2. **Another activation.** In section 4 change `hidden = ts.sigmoid(hidden @ weight)` to
#    `hidden = ts.tanh(hidden @ weight)`. Predict how the gradient norm of `W1` changes. The
#    slope of `tanh` reaches 1 where the sigmoid's stops at 1/4: `W1`'s gradient grows about a
#    hundredfold, to the same order as `W4`'s.
# 3. **A different bug.** In section 5 change the wrong derivative `grad * 2 * a ** 2` to
#    `grad * 4 * a ** 2`. Predict the ratio gradcheck prints before you run it (then compare
#    with 4/3).
