# %% [markdown]
# # Build the engine yourself
#
# A neural network learns by nudging each of its weights a little in the direction that lowers
# its error. To know that direction it needs the **gradient**: for every weight, how much the
# error changes when that weight changes. Working those derivatives out by hand is fine for
# three weights and hopeless for thirty thousand, so every framework computes them
# automatically. This part is called **automatic differentiation** (*autograd*).
#
# Autograd is less magic than it sounds. In this tutorial you write a complete one, on single
# numbers, in under a hundred lines of Python. Then you meet tinyseq's `Tensor`, which is the same
# idea over whole arrays, and check that the two give the same gradients. You will:
#
# 1. write a `Value`: a number that remembers how it was computed,
# 2. give each operation a small *backward* function that knows its own derivative,
# 3. walk the graph backwards, without recursion, and see why recursion fails on long chains,
# 4. see why gradients must be *added*, not assigned, when a value is used twice,
# 5. check the gradients against finite differences,
# 6. train a neuron with your engine, and
# 7. compute the same things with `tinyseq.Tensor`.
#
# Only Python's `math` module is needed for the engine itself; numpy and tinyseq come in at
# the end.

# %%
import math
import sys

import numpy as np

import tinyseq as ts
from tinyseq import viz
from tinyseq.course import show, table

# %% [markdown]
# ## 1. A value that remembers where it came from
#
# Take \(y = a \cdot b + c\). To differentiate it later, each intermediate result must keep
# three things besides its number:
#
# * **parents**: the values it was computed from,
# * **grad**: once we know it, \(\partial y / \partial(\text{this value})\); it starts at 0,
# * **a backward function**: given this value's grad, add the right amount to each parent's
#   grad. That is the *chain rule* for one operation: for \(u = a \cdot b\),
#   \(\partial y / \partial a = \partial y / \partial u \cdot b\).
#
# Every operation creates its output `Value` and attaches such a function (a *closure*: it
# remembers `self`, `other` and `out`). Here is the whole class. Subtraction, division and
# negation are not given derivatives of their own: they are built from `+`, `*` and `**`, so
# their backward comes for free.

# %%
class Value:
    """A number with a gradient, and the record of how it was computed."""

    def __init__(self, data, parents=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self.parents = parents          # the Values this one was computed from
        self.op = op                    # for printing: "+", "*", "tanh", ...
        self.backward_step = None       # adds this node's share into its parents' grads

    def __repr__(self):
        return f"Value(data={self.data:.4f}, grad={self.grad:.4f})"

    # ---- operations: each makes its output and says how to pass a gradient back ----
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def backward_step():
            self.grad += out.grad       # d(a + b)/da = 1
            other.grad += out.grad      # d(a + b)/db = 1
        out.backward_step = backward_step
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def backward_step():
            self.grad += other.data * out.grad     # d(a·b)/da = b
            other.grad += self.data * out.grad     # d(a·b)/db = a
        out.backward_step = backward_step
        return out

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError(f"Value ** exponent: the exponent must be a number, "
                            f"got {type(exponent).__name__}")
        out = Value(self.data ** exponent, (self,), f"**{exponent}")

        def backward_step():
            self.grad += exponent * self.data ** (exponent - 1) * out.grad
        out.backward_step = backward_step
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def backward_step():
            self.grad += (1 - t * t) * out.grad     # tanh'(x) = 1 - tanh(x)²
        out.backward_step = backward_step
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def backward_step():
            self.grad += out.data * out.grad        # exp'(x) = exp(x)
        out.backward_step = backward_step
        return out

    # ---- derived operations: no backward of their own ----
    def __neg__(self): return self * -1
    def __sub__(self, other): return self + (-other)
    def __truediv__(self, other): return self * other ** -1
    def __radd__(self, other): return self + other         # 2 + a
    def __rmul__(self, other): return self * other         # 2 * a
    def __rsub__(self, other): return (-self) + other       # 2 - a

    # ---- the backward pass (section 3) ----
    def backward(self):
        """Put d(self)/d(v) into v.grad for every Value v that self was computed from (added to
        what a leaf already holds)."""
        order = topological_order(self)
        for node in order:              # intermediate results start from zero each time;
            if node.parents:            # leaves (inputs, weights) keep adding up, as in tinyseq
                node.grad = 0.0
        self.grad = 1.0                 # dy/dy = 1
        for node in reversed(order):    # outputs before the nodes they were computed from
            if node.backward_step is not None:
                node.backward_step()


# %% [markdown]
# Nothing is differentiated yet: building an expression only records it. Let us build
# \(y = a \cdot b + c\) and look at what \(y\) remembers:

# %%
a, b, c = Value(2.0), Value(-3.0), Value(10.0)
u = a * b
y = u + c
print("y =", y.data, " made by", repr(y.op), "from", [parent.data for parent in y.parents])
print("u =", u.data, " made by", repr(u.op), "from", [parent.data for parent in u.parents])

# %% [markdown]
# ## 2. Passing the gradient back by hand
#
# The gradient of \(y\) with respect to itself is 1. Each backward function then takes its
# output's grad and hands a share to its parents. Call them yourself, output first:

# %%
y.grad = 1.0
y.backward_step()      # y = u + c: u and c each get 1 · y.grad
u.backward_step()      # u = a · b: a gets b · u.grad, b gets a · u.grad
print(f"dy/da = {a.grad}  (= b = {b.data})")
print(f"dy/db = {b.grad}  (= a = {a.data})")
print(f"dy/dc = {c.grad}")

# %% [markdown]
# That is all backpropagation is: the chain rule, applied one operation at a time, in an order
# where a node is handled only after every node that used it. The rest of the engine just
# finds that order.
#
# ## 3. The walk: a topological order, without recursion
#
# A **topological order** lists every node after all of its parents, which is the order in
# which the values were computed. Backward goes through it in reverse.
#
# The shortest way to find it is recursive: "first list my parents, then me". It is what
# micrograd, the tiny engine this tutorial is modelled on, does:

# %%
def topological_order_recursive(root):
    """Every node reachable from `root`, parents first (recursive depth-first search)."""
    order, visited = [], set()

    def visit(node):
        if node not in visited:
            visited.add(node)
            for parent in node.parents:
                visit(parent)
            order.append(node)
    visit(root)
    return order


# %% [markdown]
# Each call waits for the calls of its parents, so a chain of \(n\) operations needs \(n\)
# nested calls, and Python stops at about 1,000 of them. A recurrent network unrolled over a
# sequence of 500 words easily makes chains of thousands of operations. Try a chain of 10,000
# additions:

# %%
CHAIN_LENGTH = 10_000
start = Value(1.0)
chain = start
for _ in range(CHAIN_LENGTH):
    chain = chain + 1.0
try:
    topological_order_recursive(chain)
    print("the recursive walk finished")
except RecursionError as error:
    print(f"RecursionError (Python allows {sys.getrecursionlimit()} nested calls): {error}")

# %% [markdown]
# The fix is to keep the "calls still waiting" on a list of our own (a stack) instead of on
# Python's call stack. Each node goes on the stack twice: once to be *opened* (push its
# parents), and once to be *closed* (all its parents are listed, so it can be listed too).
# This is the walk `Value.backward` uses:

# %%
def topological_order(root):
    """Every node reachable from `root`, each after all of its parents (an explicit stack)."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, parents_listed = stack.pop()
        if parents_listed:
            order.append(node)
        elif node not in visited:
            visited.add(node)
            stack.append((node, True))              # close it after its parents
            stack.extend((parent, False) for parent in node.parents if parent not in visited)
    return order


chain.backward()
print(f"a chain of {CHAIN_LENGTH:,} additions: {len(topological_order(chain)):,} nodes, "
      f"d(chain)/d(start) = {start.grad}")

# %% [markdown]
# Each addition made two nodes (its result and the constant 1.0), and each has derivative 1
# with respect to the chain before it, so the gradient that reaches `start` is exactly 1.
#
# ## 4. Used twice: gradients add up
#
# When a value feeds two operations, a change in it reaches the output along both paths, and
# the chain rule *adds* the two contributions. That is why every backward function above writes
# `+=`. Two shapes of graph need it: a value reused in one operation, \(b = a + a\), and a
# **diamond**, where \(x\) feeds two branches that meet again:

# %%
a = Value(3.0)
b = a + a
b.backward()
print(f"b = a + a:        db/da = {a.grad}   (expected 2)")

x = Value(0.5)
left, right = x * 2.0, x * 3.0
out = left + right                                    # out = 5x
out.backward()
print(f"out = 2x + 3x:    d(out)/dx = {x.grad}   (expected 5)")

# %% [markdown]
# What if a backward function *assigned* its share instead of adding it? Here is a
# multiplication with that one-character bug:

# %%
def multiply_assigning(p, q):
    """p * q whose backward overwrites the parents' grads (wrong: see the text)."""
    out = Value(p.data * q.data, (p, q), "*")

    def backward_step():
        p.grad = q.data * out.grad          # should be +=
        q.grad = p.data * out.grad
    out.backward_step = backward_step
    return out


x = Value(0.5)
out = multiply_assigning(x, Value(2.0)) + multiply_assigning(x, Value(3.0))
out.backward()
print(f"with '=' instead of '+=':  d(out)/dx = {x.grad}   (expected 5)")

# %% [markdown]
# One branch's contribution overwrote the other's, and no error was raised: the answer is
# simply wrong. Silent errors like this are why the next section exists.
#
# ## 5. Checking against finite differences
#
# A derivative can also be estimated without any calculus, by wiggling the input:
#
# \[ \frac{\partial f}{\partial x} \approx \frac{f(x + \varepsilon) - f(x - \varepsilon)}{2\varepsilon}. \]
#
# This *central difference* is accurate to about \(\varepsilon^2\), so with
# \(\varepsilon = 10^{-6}\) and Python's 64-bit floats it agrees with the true derivative to
# about eight digits. Here is a function that uses every operation of the engine, and the
# comparison for each of its three inputs:

# %%
def f(x, y, z):
    return (x * y + z.exp()).tanh() / (y ** 2 + 1.0) - x


inputs = {"x": 0.7, "y": -1.3, "z": 0.2}
values = {name: Value(number) for name, number in inputs.items()}
f(**values).backward()
epsilon = 1e-6
rows = []
for name in inputs:
    plus = dict(inputs, **{name: inputs[name] + epsilon})
    minus = dict(inputs, **{name: inputs[name] - epsilon})
    numeric = (f(**{k: Value(v) for k, v in plus.items()}).data
               - f(**{k: Value(v) for k, v in minus.items()}).data) / (2 * epsilon)
    analytic = values[name].grad
    difference = abs(analytic - numeric)
    rows.append([f"df/d{name}", f"{analytic:.10f}", f"{numeric:.10f}", f"{difference:.1e}"])
table(["derivative", "backward", "central difference", "difference"], rows)

# %% [markdown]
# ## 6. Train a neuron
#
# A neuron computes \(\tanh(w_1 x_1 + w_2 x_2 + b)\). Four points, two of each class (+1 and
# −1), and a loss that adds up the squared errors. Training repeats three steps: compute the
# loss, run backward, move each weight a little against its gradient. The weights are leaves,
# so their grads add up over backward calls; we set them back to 0 after each step.

# %%
points = [(2.0, 1.0), (1.5, -0.5), (-1.0, -1.5), (-2.0, 0.5)]
targets = [1.0, 1.0, -1.0, -1.0]
w1, w2, bias = Value(-0.5), Value(0.8), Value(0.1)
LEARNING_RATE = 0.1


def neuron(x1, x2):
    return (w1 * x1 + w2 * x2 + bias).tanh()


def squared_error():
    errors = [(neuron(x1, x2) - target) ** 2 for (x1, x2), target in zip(points, targets)]
    return sum(errors, Value(0.0))


history = []
for step in range(30):
    loss = squared_error()
    loss.backward()
    for weight in (w1, w2, bias):
        weight.data -= LEARNING_RATE * weight.grad
        weight.grad = 0.0
    history.append(loss.data)
print("loss every 5 steps:", " ".join(f"{value:.4f}" for value in history[::5]),
      f"→ {squared_error().data:.4f}")
print("predictions:", [round(neuron(x1, x2).data, 3) for x1, x2 in points], " targets:", targets)

# %% [markdown]
# Nothing in the training loop knows what a neuron is: it only needs `loss.backward()`. That is
# the engine's whole job.
#
# ## 7. The same idea over arrays: `tinyseq.Tensor`
#
# A network has thousands of weights and reads many examples at once. Giving each number its
# own `Value` would be very slow in Python, so real engines make each node hold a whole
# **array** and each operation one numpy call. tinyseq's `Tensor` is exactly that. Compare:
#
# | your `Value` | `tinyseq.Tensor` (in `tinyseq/tensor.py`) |
# |---|---|
# | `data`: a float | `data`: a numpy array |
# | `grad`: a float, starts at 0 | `grad`: an array of `data`'s shape (None until backward) |
# | `parents` | `parents` |
# | `backward_step()` adds into the parents' grads | `backward_fn(grad)` *returns* one gradient per parent; the engine adds them up |
# | `topological_order` with an explicit stack | `Tensor.backward`: pass 1 counts the edges into each node, pass 2 handles a node once all its consumers have delivered; no recursion either |
#
# Each operation's forward and backward sit next to each other in `tinyseq/ops.py`, as yours
# do in the class above. Here is the neuron's first step again, this time on all four points
# at once, in float64 like your engine:

# %%
w1, w2, bias = Value(-0.5), Value(0.8), Value(0.1)      # the starting weights again
loss = squared_error()
loss.backward()

X = ts.tensor(np.array(points))                              # (4, 2), float64
w = ts.tensor(np.array([-0.5, 0.8]), requires_grad=True)     # (2,)
b = ts.tensor(np.array(0.1), requires_grad=True)
tensor_loss = ((ts.tanh(X @ w + b) - ts.tensor(np.array(targets))) ** 2).sum()
tensor_loss.backward()

pairs = {"loss": (loss.data, tensor_loss.item()), "dL/dw1": (w1.grad, w.grad[0]),
         "dL/dw2": (w2.grad, w.grad[1]), "dL/db": (bias.grad, b.grad.item())}
table(["", "your engine", "tinyseq.Tensor", "difference"],
      [[name, f"{mine:.12f}", f"{theirs:.12f}", f"{abs(mine - theirs):.1e}"]
       for name, (mine, theirs) in pairs.items()])

# %% [markdown]
# The same numbers, to the last digits. Your engine built a node for every single number and
# operation; the tensor version builds one per operation on whole arrays:

# %%
print("Value nodes: ", len(topological_order(loss)))
print("Tensor nodes:", len(viz.topological_order(tensor_loss)),
      "→", [node.op for node in viz.topological_order(tensor_loss)])
show(viz.draw(tensor_loss, labels={X: "points", w: "w", b: "b", tensor_loss: "loss"},
              title="The neuron's loss as tinyseq records it"))

# %% [markdown]
# Two things are new with arrays. The bias `b` is a single number added to four rows, so numpy
# *broadcast* it; its gradient must be summed back over those rows, which tinyseq's engine does
# for every operation in one place (`sum_to_shape` in `tinyseq/tensor.py`). And a node now
# holds arrays the backward pass needs, so tinyseq frees them as soon as the node has passed its
# gradient on. The walk itself is the one you wrote, and it handles long chains just as well:

# %%
start = ts.tensor(np.array(1.0), requires_grad=True)
chain = start
for _ in range(CHAIN_LENGTH):
    chain = chain + 1.0
chain.backward()
print(f"tinyseq, a chain of {CHAIN_LENGTH:,} additions: d(chain)/d(start) = {start.grad}")

# %% [markdown]
# ## What you have seen
#
# * An autograd engine is a record of each operation's inputs plus, per operation, a small
#   function that applies its own derivative: the chain rule, one node at a time.
# * Backward visits the nodes in reverse topological order. Found with an explicit stack, that
#   order works for chains of any length; a recursive search stops at Python's limit of about
#   1,000 nested calls.
# * A value used more than once receives the *sum* of its gradients; assigning instead of
#   adding is a silent bug that finite differences catch.
# * `tinyseq.Tensor` is the same engine over arrays, with broadcasting handled in one place.
#
# Next, [autograd from scratch](01-autograd.md) uses tinyseq's tensors in earnest: their graphs,
# drawn, and `gradcheck`.
#
# ## Exercises
#
# **`engine_backward`**: write the backward walk of an engine of your own. The stub gives you a
# `Value` with its operations, in the other common design: instead of a backward closure, each
# node stores its local derivatives (`local_grads`: for \(c = a \cdot b\), \(b\) and \(a\)), so
# your walk applies the chain rule itself. You write the iterative topological order and the
# walk; the checker tries it on reused nodes, diamonds and a 10,000-step chain.
#
# ```bash
# tinyseq exercise start engine_backward     # writes engine_backward.py: the task and a stub
# tinyseq exercise check engine_backward.py  # says what is right, or what is wrong
# ```
#
# It trains the one idea everything else in this course stands on: how a gradient finds its way
# back through a graph.
#
# ## Try this
#
# 1. In section 3, set `CHAIN_LENGTH = 500` and run the recursive walk again. Predict first:
#    does it fail? Then try 990 and 1,000: where does Python's limit of 1,000 nested calls
#    really bite?
# 2. In `Value.__add__`, change *both* `+=` to `=` and rerun section 4. Predict which of the two
#    checks goes wrong and what it prints. (Hint: in the diamond, the value used twice, `x`,
#    feeds two multiplications, not an addition.)
# 3. In section 6, change the first target from `1.0` to `2.0`. A tanh never exceeds 1: what
#    is the smallest loss training can reach now? Run it and compare with your guess. Then set
#    `LEARNING_RATE = 0.01` instead and watch how many steps the original task needs.
