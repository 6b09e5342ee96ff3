# %% [markdown]
# # Long-term dependencies
#
# "I grew up in France and spent twenty long years there, so now I speak fluent ___." To fill
# the blank, a model must carry one fact, the country, across every word in between. The longer
# the gap, the longer the path the gradient must travel back to the word that mattered, and
# [tutorial 3](03-vanishing-gradients.md) measured how fast a gradient fades along such a path.
# [Tutorial 4](04-lstm.md) showed the LSTM's answer: a cell state whose gradient is the product
# of its forget gates, which the network can learn to hold open.
#
# This tutorial trains networks on such tasks and measures when they fail. You will:
#
# 1. meet the **adding problem**, the classic test of long memory, and train a simple RNN and
#    an LSTM on it yourself: the LSTM learns it at 100 steps, the simple RNN does not,
# 2. look inside the trained LSTM and see its forget gates opened by training,
# 3. read the full experiment: three seeds, sequences of 10 to 100 steps,
# 4. meet the **gap task**, tinyseq's version of the "fluent ___" sentence, where the story has a
#    twist: the LSTM as Keras initialises it loses to the simple RNN, and a better start for its
#    forget gates (*chrono initialisation*) fixes it,
# 5. see which mechanism of tutorials 3 and 4 explains each result.

# %%
import numpy as np

import tinyseq as ts
from tinyseq.course import load_result, pick, show, table, use_plain_matplotlib
from tinyseq.experiments import adding
from tinyseq.experiments import gap as gap_task
from tinyseq.experiments.common import COLOURS, LABELS, train_step
from tinyseq.layers import Dense
from tinyseq.losses import mean_squared_error, sparse_categorical_crossentropy
from tinyseq.models import Sequential
from tinyseq.optimizers import Adam

plt = use_plain_matplotlib()

# %% [markdown]
# ## 1. The adding problem
#
# Each sequence has \(T\) steps, and each step carries two numbers: a **value** drawn at random
# between 0 and 1, and a **marker**, 0 or 1. Exactly two steps are marked, one in the first
# half of the sequence and one in the second. The network reads the whole sequence and must
# then output the **sum of the two marked values** (Hochreiter and Schmidhuber, 1997).
#
# The first marked value can sit anywhere in the first half, so the network must notice it when
# it passes and keep it, unchanged, across at least \(T/2\) steps of values that do not matter.
# A short example, \(T = 10\):

# %%
x, y = adding.adding_batch(1, 10, np.random.default_rng(4))
table(["step"] + [str(t) for t in range(1, 11)],
      [["value"] + [f"{v:.2f}" for v in x[0, :, 0]], ["marker"] + [f"{m:.0f}" for m in x[0, :, 1]]])
first, second = x[0, x[0, :, 1] == 1, 0]                # the two marked values
print(f"target: {first:.2f} + {second:.2f} = {y[0, 0]:.2f}")

# %% [markdown]
# How good is a network's answer? The loss is the mean squared error (MSE). A network that
# ignores its input and always answers the average sum, 1, scores the variance of a sum of two
# random numbers between 0 and 1: \(2/12 = 1/6 \approx 0.167\). Anything near 0.167 has learned
# nothing about the sequence; we call the task **solved** when the test MSE drops below 0.01.
#
# ## 2. Train an RNN and an LSTM yourself, at T = 100
#
# The network is a recurrent layer of 32 units followed by a `Dense(1)` read-out, trained with
# Adam on fresh random batches of 64 sequences; every 25 iterations it answers 512 fixed test
# sequences. Both recurrent layers are built as Keras builds them by default: a `SimpleRNN`
# (tanh), and an `LSTM` with its forget-gate bias at 1. They see the same batches. The simple
# RNN gets twice the iterations, since each of its steps is about three times cheaper. (This is
# what `adding.train_adding` does for the command line tool; here the loop is in plain sight.)

# %%
TIMESTEPS = pick(full=100, fast=20)
BUDGETS = {"rnn": pick(full=2000, fast=100), "lstm": pick(full=1000, fast=100)}
settings = adding.AddingSettings()


def train_on_adding(model, timesteps, iterations, seed=0):
    """Train a SimpleRNN ("rnn") or LSTM ("lstm") network on the adding problem.

    Returns the network and its test MSE every `eval_every` iterations, from iteration 0.
    """
    ts.random.seed(seed)                                        # the initial weights
    network = Sequential([adding.RECURRENT_LAYERS[model](settings.units), Dense(1)])
    optimizer = Adam(settings.learning_rate, global_clipnorm=settings.global_clipnorm)
    data = np.random.default_rng([seed, timesteps])             # both models: the same data
    test_x, test_y = adding.adding_batch(settings.test_size, timesteps, data)
    curve = []
    for iteration in range(iterations + 1):
        if iteration > 0:
            batch = adding.adding_batch(settings.batch_size, timesteps, data)
            train_step(network, optimizer, mean_squared_error, *batch)
        if iteration % settings.eval_every == 0:
            with ts.no_grad():
                curve.append((iteration, ts.mean(mean_squared_error(test_y, network(test_x))).item()))
    return network, curve


networks, curves = {}, {}
for model, iterations in BUDGETS.items():
    networks[model], curves[model] = train_on_adding(model, TIMESTEPS, iterations)


def first_below(curve, threshold):
    return next((f"after {iteration}" for iteration, mse in curve if mse < threshold), "never")


table(["model", "iterations", "test MSE at the start", "at the end", f"first below {adding.THRESHOLD}"],
      [[LABELS[model], str(BUDGETS[model]), f"{curve[0][1]:.4f}", f"{curve[-1][1]:.4f}",
        first_below(curve, adding.THRESHOLD)] for model, curve in curves.items()])

# %%
figure, axes = plt.subplots()
for model, curve in curves.items():
    steps, mses = zip(*curve)
    axes.plot(steps, mses, color=COLOURS[model], label=LABELS[model])
axes.axhline(adding.BASELINE_MSE, color="grey", linestyle="--", label="always answer 1")
axes.axhline(adding.THRESHOLD, color="black", linestyle=":", label="solved")
axes.set(yscale="log", xlabel="iteration", ylabel="test MSE",
         title=f"The adding problem, T = {TIMESTEPS}")
axes.legend(fontsize=8)
show(figure, "adding-curves")

# %% [markdown]
# The simple RNN's error reaches the line of "always answer 1" within its first 25 iterations
# and never leaves it: after all its training it knows nothing about the marked values. The
# LSTM's error sits on that line too, for hundreds of iterations, and then, within a few dozen,
# falls below 0.01: it has found how to hold the first marked value across up to 100 steps.
#
# ## 3. Inside the trained LSTM: the forget gates opened
#
# [Tutorial 4](04-lstm.md) found that the gradient along the cell state is the product of the
# forget gates. Keras starts every forget gate at \(\sigma(1) \approx 0.73\): a cell that keeps
# 73 % of its content per step keeps \(0.73^{50} \approx 10^{-7}\) of it over 50 steps. To hold
# a value across the sequence, training must open the gates. Did it? Run the trained LSTM's
# cell over the test sequences step by step and record its forget gates:

# %%
def forget_gates(lstm, inputs):
    """The forget gate of every unit at every step, as `lstm` (an LSTM layer) reads `inputs`.

    Returns an array (batch, timesteps, units) of values between 0 and 1.
    """
    cell = lstm.cell
    hidden, cell_state = cell.get_initial_state(inputs.shape[0])
    gates = []
    with ts.no_grad():
        for t in range(inputs.shape[1]):
            projected = cell.project_inputs(inputs[:, t])
            z = projected + hidden @ cell.recurrent_kernel
            forget_block = z[:, cell.units:2 * cell.units]          # the second of i, f, c, o
            gates.append(ts.sigmoid(forget_block).numpy())
            _, (hidden, cell_state) = cell.step(projected, [hidden, cell_state])
    return np.stack(gates, axis=1)


test_x, _ = adding.adding_batch(256, TIMESTEPS, np.random.default_rng(1))
untrained, _ = train_on_adding("lstm", TIMESTEPS, iterations=0)     # the same LSTM before training
rows = []
for when, network in (("before training", untrained), ("after training", networks["lstm"])):
    per_unit = forget_gates(network.layers[0], ts.tensor(test_x)).mean(axis=(0, 1))
    rows.append([when, f"{per_unit.mean():.3f}", f"{np.sum(per_unit > 0.95)} of {per_unit.size}",
                 f"{per_unit.max():.4f}"])
table(["LSTM", "mean forget gate", "units with forget gate > 0.95", "largest (one unit)"], rows)

# %% [markdown]
# Before training, every unit's forget gate sits near \(\sigma(1) = 0.73\). After training,
# the average has not risen at all, but the last column has: a unit that keeps nearly all of
# its cell state at every step. That unit is the memory that carries the first marked value to
# the end; the others forget as quickly as before, or more, and do the rest of the work.
# Training made that change itself, guided by a gradient that had to come back through forget
# gates of 0.73.
#
# ## 4. The full experiment: three seeds, T = 10 to 100
#
# One seed at one length is an anecdote. The command line tool runs both networks at four
# lengths for three seeds, and tinyseq ships the result it recorded (`load_result` reads it):

# %%
result = load_result("vanishing-adding")
print("$ tinyseq vanishing adding --json vanishing-adding.json")
budgets = result["budgets"]
print(f"{len(result['runs'])} training runs, seeds {result['seeds']}, RNN {budgets['rnn']} and "
      f"LSTM {budgets['lstm']} iterations; {result['seconds'] / 60:.1f} minutes on 2 cores")
lengths = sorted({run["timesteps"] for run in result["runs"]})


def seeds_of(model, timesteps, field):
    return [run[field] for run in result["runs"]
            if run["model"] == model and run["timesteps"] == timesteps]


def describe(iterations):
    return " ".join("never" if i is None else str(i) for i in iterations)


table(["T", "SimpleRNN: final test MSE", "SimpleRNN: iterations to < 0.01", "LSTM: final test MSE",
       "LSTM: iterations to < 0.01"],
      [[str(t), " ".join(f"{m:.3f}" for m in seeds_of("rnn", t, "final_mse")),
        describe(seeds_of("rnn", t, "iterations_to_threshold")),
        " ".join(f"{m:.4f}" for m in seeds_of("lstm", t, "final_mse")),
        describe(seeds_of("lstm", t, "iterations_to_threshold"))] for t in lengths])

# %% [markdown]
# Each cell lists the three seeds. At 10 steps both networks solve the task. At 25 the simple
# RNN needs most of its 2,000 iterations, and one seed of three never gets there. From 50 steps
# on no seed comes anywhere near 0.01: each ends around the 0.167 of "always answer 1" (between
# 0.11 and 0.20). The LSTM solves every length for every seed, needing more iterations as the
# sequences grow.
#
# This is the classic result, and tutorials 3 and 4 predict it: the simple RNN's gradient
# shrinks by a roughly constant factor per step, the LSTM's cell state passes it on through the
# forget gates, which training can open. Measure it: before any training, how much of the
# gradient of the loss reaches the first step's input, compared with the last step's,
# \(\lVert \partial L / \partial x_1 \rVert \,/\, \lVert \partial L / \partial x_T \rVert\)?

# %%
def first_to_last_gradient(network, x, y):
    """||dL/dx_first|| / ||dL/dx_last|| for inputs x (batch, timesteps, features), over the batch."""
    inputs = ts.tensor(x, requires_grad=True)
    ts.mean(mean_squared_error(y, network(inputs))).backward()
    per_step = np.linalg.norm(inputs.grad, axis=(0, 2))
    return per_step[0] / per_step[-1]


rows = []
for timesteps in lengths:
    x, y = adding.adding_batch(256, timesteps, np.random.default_rng(2))
    untrained = {model: train_on_adding(model, timesteps, iterations=0)[0] for model in ("rnn", "lstm")}
    rows.append([str(timesteps)] + [f"{first_to_last_gradient(untrained[model], x, y):.1e}"
                                    for model in ("rnn", "lstm")])
table(["T", "SimpleRNN: first / last", "LSTM: first / last"], rows)

# %% [markdown]
# The simple RNN's inputs here are of unit size (values up to 1, markers of 1), which pushes
# its `tanh` away from its linear part, and its gradient fades with distance as tutorial 3
# measured. The LSTM's gradient fades too, even faster, through forget gates of 0.73; what saves
# it is that training can open them, as section 3 showed.
#
# ## 5. The gap task: "fluent ___"
#
# Now the sentence from the top of the page, as a task. Each sequence starts with one of eight
# countries, followed by `gap` words drawn at random from a small vocabulary of distractors.
# The label is the language of the country. Nothing after the first word helps, so guessing is
# right one time in eight. Some examples:

# %%
rng = np.random.default_rng(0)
for gap in (3, 8, 15):
    print(f"gap {gap:2d}:", gap_task.sentence(rng, gap))
print()
print(f"{len(gap_task.COUNTRIES)} countries, {len(gap_task.DISTRACTORS)} distractor words; "
      f"chance accuracy {gap_task.CHANCE:.3f}")

# %% [markdown]
# As a network sees it, a sequence is a row of word ids (the country's id first), and a batch is
# (samples, timesteps):

# %%
ids, labels = gap_task.gap_batch(4, 6, rng)
print("ids:", ids.shape, "\n", ids, "\nlabels (language ids):", labels)

# %% [markdown]
# The networks are the library's standard text pipeline, Embedding(32 words, 16) → recurrent
# layer (32 units) → Dense(8), trained with Adam on fresh random batches. Three recurrent layers
# are compared:
#
# * **SimpleRNN** with Keras's default initialisation,
# * **LSTM** with Keras's defaults, forget-gate bias 1, the network that just solved the adding
#   problem,
# * **LSTM chrono**: the same LSTM whose gate biases are drawn by *chrono initialisation*
#   (Tallec and Ollivier, 2018), which spreads the units' memory times over the lengths of
#   dependency the task holds (section 7 says how).
#
# Training one of them is the same short loop as before:

# %%
GAP = pick(full=25, fast=10)
GAP_MODELS = ("rnn", "lstm", "lstm_chrono")      # their names in tables: common.LABELS
gap_settings = gap_task.GapSettings(iterations=pick(full=500, fast=60))


def gap_loss(labels, logits):
    return sparse_categorical_crossentropy(labels, logits, from_logits=True)


def train_on_gap(model_name, seed=0):
    """Train the network of one of GAP_MODELS on the gap task at GAP; return it."""
    ts.random.seed(seed)                                   # the initial weights
    network = gap_task.gap_network(model_name, GAP, gap_settings)
    optimizer = Adam(gap_settings.learning_rate, global_clipnorm=gap_settings.global_clipnorm)
    data = np.random.default_rng([seed, GAP])              # every model sees the same batches
    for _ in range(gap_settings.iterations):
        batch = gap_task.gap_batch(gap_settings.batch_size, GAP, data)
        train_step(network, optimizer, gap_loss, *batch)
    return network


test_ids, test_labels = gap_task.gap_batch(512, GAP, np.random.default_rng(99))
gap_networks, rows = {}, []
for name in GAP_MODELS:
    gap_networks[name] = network = train_on_gap(name)
    with ts.no_grad():
        accuracy = np.mean(network(test_ids).numpy().argmax(axis=-1) == test_labels)
    rows.append([LABELS[name], f"{accuracy:.1%}"])
table([f"model (gap {GAP}, {gap_settings.iterations} iterations)", "test accuracy"], rows)

# %% [markdown]
# Now the blank. Each network reads the same sentences and names a language:

# %%
languages = [language for _, language in gap_task.COUNTRIES]
words = gap_task.VOCABULARY
example_rows = []
for row, label in zip(test_ids[:5], test_labels[:5]):
    text = f"{words[row[0]]} {' '.join(words[i] for i in row[1:6])} … ({GAP} words) → ___"
    with ts.no_grad():
        guesses = [languages[int(gap_networks[n](row[None]).numpy().argmax())] for n in GAP_MODELS]
    example_rows.append([text, languages[label], *guesses])
table(["sentence", "answer", *(LABELS[name] for name in GAP_MODELS)], example_rows)

# %% [markdown]
# The LSTM that held a number across 100 steps cannot hold a country across 25 words, and the
# simple RNN that failed the adding problem fills in the blank. Before asking why, check that
# it is not an accident of one seed and one gap.
#
# ## 6. The full gap experiment
#
# The command line tool ran every model at six gaps for three seeds:

# %%
result = load_result("vanishing-gap")
print("$ tinyseq vanishing gap --json vanishing-gap.json")
runs, gaps, seeds, models = result["runs"], result["gaps"], result["seeds"], result["models"]
print(f"{len(runs)} training runs: gaps {gaps}, seeds {seeds}, "
      f"{result['settings']['iterations']} iterations each, "
      f"{result['seconds'] / 60:.1f} minutes on 2 cores")


def mean_over_seeds(model, gap, field):
    values = [r[field] for r in runs if r["model"] == model and r["gap"] == gap]
    if field == "initial_gradient_ratio":                  # ratios: a geometric mean
        return float(np.exp(np.mean(np.log(values))))
    return float(np.mean(values))


chance_band = gap_task.CHANCE + 3 * np.sqrt(gap_task.CHANCE * (1 - gap_task.CHANCE)
                                            / (result["settings"]["test_size"] * len(seeds)))
table(["gap"] + [f"{LABELS[m]} accuracy" for m in models]
      + [f"{LABELS[m]} gradient" for m in models],
      [[gap] + [f"{mean_over_seeds(m, gap, 'accuracy'):.2f}" for m in models]
       + [f"{mean_over_seeds(m, gap, 'initial_gradient_ratio'):.1e}" for m in models] for gap in gaps])

# %% [markdown]
# The accuracy columns are means over the seeds. The gradient columns were measured *before*
# training: \(\lVert \partial L / \partial x_{\text{first}} \rVert \,/\, \lVert \partial L / \partial x_{\text{last}} \rVert\),
# how much of the gradient reaches the country's word compared with the last word (a geometric
# mean over the seeds). Where each model drops to chance (at most
# \(1/8\) plus three standard errors of guessing):

# %%
for model in models:
    at_chance = [gap for gap in gaps if mean_over_seeds(model, gap, "accuracy") <= chance_band]
    verdict = (f"at chance from gap {at_chance[0]}" if at_chance
               else f"above chance at every gap up to {gaps[-1]}")
    print(f"{LABELS[model]:12s} {verdict}")

# %%
figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
for model in models:
    left.plot(gaps, [mean_over_seeds(model, g, "accuracy") for g in gaps], "o-", color=COLOURS[model],
              label=LABELS[model])
    for gap in gaps:
        per_seed = [r["accuracy"] for r in runs if r["model"] == model and r["gap"] == gap]
        left.plot([gap] * len(per_seed), per_seed, ".", color=COLOURS[model], alpha=0.35)
    right.plot(gaps, [mean_over_seeds(model, g, "initial_gradient_ratio") for g in gaps], "o-",
               color=COLOURS[model], label=LABELS[model])
left.axhline(gap_task.CHANCE, color="grey", linestyle="--", label="chance")
left.set(xscale="log", xlabel="gap (words between the country and the blank)", ylabel="test accuracy",
         title="Accuracy after training")
right.set(xscale="log", yscale="log", xlabel="gap", ylabel="first-word / last-word gradient",
          title="Gradient reaching the country, before training")
for axes in (left, right):
    axes.set_xticks(gaps, [str(g) for g in gaps])
    axes.minorticks_off()
left.legend(fontsize=8)
show(figure, "gap-experiment")

# %% [markdown]
# ## 7. What explains each curve
#
# **The default LSTM.** Its forget gates start at \(\sigma(1) \approx 0.73\), so at the start
# of training its memory spans a handful of steps, and the right-hand plot shows the gradient
# reaching the country collapsing as the gap grows. On the adding problem, training opened a
# forget gate all the same (section 3). Did it here? Measure the forget gates of the LSTMs you
# trained on the gap task, as in section 3:

# %%
rows = []
for name in ("lstm", "lstm_chrono"):
    embedded = gap_networks[name].layers[0](ts.tensor(test_ids[:256]))
    per_unit = forget_gates(gap_networks[name].layers[1], embedded).mean(axis=(0, 1))
    rows.append([LABELS[name], f"{per_unit.mean():.3f}",
                 f"{np.sum(per_unit > 0.95)} of {per_unit.size}", f"{per_unit.max():.4f}"])
table([f"trained at gap {GAP}", "mean forget gate", "units with forget gate > 0.95",
       "largest (one unit)"], rows)

# %% [markdown]
# No unit of the default LSTM came near 1: on this task training never found the way to open
# its gates, and more iterations do not change that (try it below). Why it found the way on the
# adding problem and not here, where at the start far *more* gradient reached the clue (about
# \(10^{-2}\) at gaps of 20 to 25, against \(10^{-8}\) at the first of the adding problem's 100
# steps), these measurements do not settle. One difference
# stands out: the adding problem's marker is an input of size 1 on a channel of its own, which
# the gates can respond to from the first iteration, while here the country is one of 32 word
# vectors that all start within ±0.05 of zero, hardly different from the distractors.
#
# **The chrono LSTM** does not have to learn to open its gates: chrono initialisation chooses
# them for the task. Each unit's forget bias is drawn as \(b_f = \log u\), with \(u\) uniform
# between 1 and the gap, so that \(\sigma(b_f) = u / (1 + u)\): that unit forgets a fraction
# \(1/(1 + u)\) per step, and the units' memory times spread from 2 steps to the whole gap. Its
# input gate starts at \(b_i = -b_f\), so a unit that keeps a lot also writes little. Some units
# carry the country across the whole gap from the first iteration, its gradient column stays
# large, and after training many of its units keep more than 95 % per step.
#
# **The SimpleRNN** is the twist. Keras initialises its recurrent matrix as an orthogonal
# matrix (every singular value 1), and its inputs here are tiny: word vectors start within
# ±0.05. So at the start the `tanh` works in its nearly linear part, and the network is close to
# the linear recurrence with \(s = 1\) of [tutorial 3](03-vanishing-gradients.md), whose gradient
# does not decay: its gradient column stays near 1 over tens of steps, and falls off only at the
# longest gaps, where its accuracy falls too. Not because of that gradient alone: at gap 160 it
# still gets more of it than the chrono LSTM, which answers every sentence right; what goes wrong
# there happens during training, which a gradient measured before it cannot see. On the adding
# problem, with inputs of size 1, the same network kept only \(10^{-4}\) or less of its gradient
# over 100 steps (section 4). Its success here is a property of the initialisation and of this
# task, whose distractors the network can simply let pass, not an ability of simple RNNs in
# general.
#
# The lesson generalises: whether a recurrent network learns a long-range dependency depends on
# how much gradient reaches the early steps at the start, and on whether training finds the
# signal to open the gates that let more through. A gate that *can* hold a memory forever helps
# only once it is open; an initialisation that opens it from the start, like chrono, removes the
# question. `tinyseq vanishing norms` measures those gradients for each mechanism (see
# [Run an experiment](../how-to/run-an-experiment.md)), and [tutorial 9](09-gru.md) puts the GRU,
# the LSTM's leaner cousin, through both tasks.
#
# ## What you have seen
#
# * On the adding problem at 100 steps, the LSTM as Keras initialises it learns to carry a value
#   to the end; the simple RNN, with inputs of size 1, fails from 50 steps on, for every seed.
# * Training did it by opening a forget gate: one unit of the trained LSTM keeps nearly all of
#   its cell state at every step.
# * On the gap task the same LSTM fails from a gap of a few tens and opens no gate, while the
#   simple RNN, in its near-linear start, succeeds up to gap 40 and degrades beyond; chrono
#   initialisation gives the LSTM forget gates matched to the task, and it succeeds at every gap.
# * The gradient measured before training explains the two LSTMs' curves on the gap task, but it
#   is a guide, not a verdict: on the adding problem the LSTM started with less and still
#   learned, and at gap 160 the simple RNN gets a third of the answers right with more gradient
#   than the chrono LSTM, which gets them all.
#
# ## Exercises
#
# Every run on this page clips its gradients by their global norm (`global_clipnorm=1` in
# Adam), so that one exploding batch cannot throw the weights away. Write that clipping
# yourself in the exercise of [tutorial 3](03-vanishing-gradients.md):
#
# ```bash
# tinyseq exercise start gradient_clipping     # writes gradient_clipping.py: the task and a stub
# tinyseq exercise check gradient_clipping.py  # says what is right, or what is wrong
# ```
#
# It trains the one safety net every recurrent network in this course is trained with: rescale
# all gradients together when their joint norm is too large, and leave them alone otherwise.
#
# ## Try this
#
# 1. In section 2, set `TIMESTEPS = 25` and rerun it. Predict from the table of section 4
#    whether the simple RNN gets below 0.01 this time, and roughly when.
# 2. In section 5, train four times longer: `gap_settings = gap_task.GapSettings(iterations=2000)`.
#    Predict before running: does the default LSTM learn gap 25 with more training?
# 3. In `train_on_gap`, give the default LSTM the forget bias chrono gives its most patient
#    unit: after `network = ...` add
#    `if model_name == "lstm": network.build((None, GAP + 1)); network.layers[1].cell.bias.data[32:64] = np.log(GAP)`
#    (the forget block of an LSTM of 32 units) and rerun. Predict: does one wide-open start for
#    every unit do the job of chrono's spread of memory times?
