# %% [markdown]
# # Samples, timesteps and features
#
# Every recurrent layer in tinyseq, as in Keras, reads a 3-D array of shape
# **(samples, timesteps, features)**:
#
# * **samples**: how many sequences (the batch dimension),
# * **timesteps**: how many steps each sequence has,
# * **features**: how many numbers describe each step.
#
# Getting data into that shape is most of the work of using an RNN. This tutorial does it for a
# forecasting problem: predicting tomorrow's visits to a website from the last four weeks. Then
# it runs a popular Keras sequence model *as written*, Embedding → LSTM → Dropout → Dense, on a
# task that fits it, and shows how its 2-D input of page ids becomes the same 3-D shape.
#
# You will:
#
# 1. make a synthetic daily page-view series with a weekly rhythm,
# 2. cut it into windows of shape (samples, timesteps, features), with one feature and then two,
# 3. train an LSTM forecaster and compare it with simple baselines,
# 4. run the Embedding(1024, 256) → LSTM(128) → Dropout(0.5) → Dense(1, sigmoid) model on
#    sessions of page ids.

# %%
import numpy as np

import tinyseq as ts
from tinyseq.layers import LSTM, Dense, Dropout, Embedding
from tinyseq.models import Sequential
from tinyseq.preprocessing.sequence import pad_sequences
from tinyseq.course import pick, show, table, use_plain_matplotlib

plt = use_plain_matplotlib()
ts.random.seed(0)                        # weights and shuffling repeat exactly

# %% [markdown]
# ## 1. A page-view series
#
# Two years of daily visits to a made-up website: a slowly growing baseline, fewer visitors at
# the weekend, a little yearly swing, and day-to-day noise.

# %%
days = 2 * 365
rng = np.random.default_rng(0)
day = np.arange(days)
weekday = day % 7                                    # 0 = Monday ... 6 = Sunday
weekend = (weekday >= 5).astype(np.float32)
baseline = 1000 * (1 + 0.4 * day / days)             # grows by 40% over two years
yearly = 1 + 0.1 * np.sin(2 * np.pi * day / 365)
views = baseline * yearly * (1 - 0.35 * weekend) * rng.lognormal(0, 0.08, days)
views = views.astype(np.float32)

figure, (whole, zoom) = plt.subplots(1, 2, figsize=(9.5, 3.2), gridspec_kw={"width_ratios": [2, 1]})
whole.plot(day, views, linewidth=0.6)
whole.set(xlabel="day", ylabel="page views", title="Two years of daily page views")
zoom.plot(day[:28], views[:28], marker="o", markersize=3)
zoom.scatter(day[:28][weekend[:28] == 1], views[:28][weekend[:28] == 1], color="C3", zorder=3, label="weekend")
zoom.set(xlabel="day", title="The first four weeks")
zoom.legend()
show(figure, "series")

# %% [markdown]
# ## 2. Windows: from one long series to (samples, timesteps, features)
#
# A forecaster learns from examples: "given these 28 days, the next day had this many views".
# Sliding a 28-day window along the series makes one example per position. Each example is a
# sequence of 28 timesteps; each timestep has one feature, that day's views.

# %%
TIMESTEPS = 28


def windows(columns, target, timesteps):
    """Stack every run of `timesteps` consecutive rows of `columns` (days, features) as one
    sample, with the `target` of the day that follows it."""
    starts = range(len(target) - timesteps)
    x = np.stack([columns[s:s + timesteps] for s in starts])
    y = np.array([target[s + timesteps] for s in starts])
    return x, y


x_one, y_one = windows(views[:, None], views, TIMESTEPS)
print("one feature:  x", x_one.shape, " y", y_one.shape)

# %% [markdown]
# The shape reads (samples, timesteps, features) = (702 windows, 28 days, 1 number per day).
# Sample 0 holds days 0 to 27 and its target is day 28; sample 1 holds days 1 to 28; and so on.
#
# A second feature is the calendar: whether a day is a weekend. The model could work that out
# from the pattern of views, but being told is easier. Stacking it beside the views makes two
# features per timestep. Because the *target* day's calendar is known in advance too, we also
# tell the model whether tomorrow is a weekend, by giving each timestep the weekend flag of the
# day after it.

# %%
tomorrow_weekend = np.roll(weekend, -1)
columns = np.stack([views, tomorrow_weekend], axis=1)      # (days, 2 features)
x, y = windows(columns, views, TIMESTEPS)
print("two features: x", x.shape, " y", y.shape)
table(["timestep", "views (feature 0)", "next day is a weekend (feature 1)"],
      [[t, f"{x[0, t, 0]:.0f}", f"{x[0, t, 1]:.0f}"] for t in range(7)])

# %% [markdown]
# Two rules for time series:
#
# * **Split by time, not at random.** The test set is the last 20% of the windows; training
#   only ever sees the past of what it is tested on.
# * **Scale with the training data's statistics.** Views in the thousands would saturate the
#   LSTM's gates; we subtract the training mean and divide by the training standard deviation,
#   and undo that on the predictions.

# %%
split = int(0.8 * len(x))
x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]
mean, std = y_train.mean(), y_train.std()


def scale(x):
    x = x.copy()
    x[..., 0] = (x[..., 0] - mean) / std
    return x


print(f"train: {x_train.shape}, test: {x_test.shape}; views scaled with mean {mean:.0f}, std {std:.0f}")

# %% [markdown]
# ## 3. An LSTM forecaster
#
# One LSTM layer reads the 28 timesteps and hands its last output to a `Dense(1)` layer, which
# outputs tomorrow's (scaled) views. The loss is the mean squared error.

# %%
forecaster = Sequential([LSTM(32), Dense(1)])
forecaster.compile(optimizer="adam", loss="mse")
forecaster.build(x_train.shape)
forecaster.summary()

# %%
history = forecaster.fit(scale(x_train), (y_train - mean) / std, epochs=pick(full=20, fast=2),
                         batch_size=32, validation_split=0.1, verbose=2)

# %% [markdown]
# Is it any good? Compare it with two forecasts that need no learning: "tomorrow is like today"
# and "tomorrow is like the same weekday last week". The error is in page views: the mean of
# |forecast − actual| over the test period.

# %%
forecast = forecaster.predict(scale(x_test), verbose=0)[:, 0] * std + mean
baselines = {
    f"LSTM(32) on {TIMESTEPS} days × 2 features": forecast,
    "same as today": x_test[:, -1, 0],
    "same as a week before": x_test[:, -7, 0],
}
table(["forecast", "mean absolute error (views)", "relative to the mean"],
      [[name, f"{np.mean(np.abs(f - y_test)):.0f}", f"{np.mean(np.abs(f - y_test)) / y_test.mean():.1%}"]
       for name, f in baselines.items()])

# %%
figure, axes = plt.subplots(figsize=(9, 3.2))
test_days = day[TIMESTEPS:][split:]
axes.plot(test_days, y_test, color="0.6", label="actual")
axes.plot(test_days, forecast, color="C1", label="LSTM forecast")
axes.set(xlabel="day", ylabel="page views", title="The test period: the last 20% of the series")
axes.legend()
show(figure, "forecast")

# %% [markdown]
# The weekly baseline is strong because the series has a strong weekly rhythm; the LSTM, told
# about weekends and shown four weeks of history, has the level and the rhythm to work with.
# (In fast mode, `TINYSEQ_FAST=1`, it trains for only two epochs and is worse.)
#
# ## 4. The "web traffic" model, as written
#
# A Keras model often passed around as an example of sequence classification with an LSTM
# (and, in some places, as a model for "web traffic") is
#
# ```text
# Embedding(1024, 256) → LSTM(128) → Dropout(0.5) → Dense(1, activation="sigmoid")
# compiled with loss="binary_crossentropy", optimizer="rmsprop"
# ```
#
# Read it from both ends before using it:
#
# * `Embedding(1024, 256)` takes **integer ids** from 0 to 1023 and replaces each with a
#   learned vector of 256 numbers. Its input is 2-D, (samples, timesteps), one id per step;
#   its output is the 3-D (samples, timesteps, 256) an LSTM reads.
# * `Dense(1, activation="sigmoid")` outputs a number between 0 and 1: a **probability**, for a
#   yes/no question about the whole sequence.
#
# So it is a *sequence classifier over a vocabulary of 1024 things*. It cannot forecast the
# page-view counts above (real numbers, and a real-valued answer). A web-traffic task that fits
# it: a site has 1023 pages, numbered 1 to 1023 (0 is kept for padding), and each visit is the
# sequence of pages one visitor opened. Was the visitor a **crawler** (a bot) or a person?
#
# Our synthetic visitors: people start on a popular page and mostly follow links to pages in the
# same section (nearby ids), favouring popular ones; crawlers walk the site's pages in order,
# skipping ahead, with a few random jumps. Sessions last 5 to 30 pages.

# %%
PAGES, MAXLEN = 1024, 30
popularity = 1 / np.arange(1, PAGES) ** 1.1           # page 1 is the most visited
popularity /= popularity.sum()


def person(rng):
    page, visited = rng.choice(np.arange(1, PAGES), p=popularity), []
    for _ in range(rng.integers(5, MAXLEN + 1)):
        visited.append(page)
        if rng.random() < 0.7:                            # a link within the section
            page = int(np.clip(page + rng.integers(-8, 9), 1, PAGES - 1))
        else:                                             # back to a popular page
            page = rng.choice(np.arange(1, PAGES), p=popularity)
    return visited


def crawler(rng):
    page, visited = rng.integers(1, PAGES), []
    for _ in range(rng.integers(5, MAXLEN + 1)):
        visited.append(page)
        page = page + rng.integers(1, 4) if rng.random() < 0.85 else rng.integers(1, PAGES)
        page = (page - 1) % (PAGES - 1) + 1
    return visited


rng = np.random.default_rng(1)
count = pick(full=800, fast=300)
labels = rng.integers(0, 2, count)                         # 1 = crawler
sessions = [crawler(rng) if label else person(rng) for label in labels]
print("a person: ", [int(page) for page in sessions[int(np.argmin(labels))][:12]], "...")
print("a crawler:", [int(page) for page in sessions[int(np.argmax(labels))][:12]], "...")

# %% [markdown]
# Sessions have different lengths, but an array needs one shape. `pad_sequences` makes every
# session `MAXLEN` long by putting zeros in front of short ones (and cutting long ones), the
# Keras convention. Then the input is (samples, timesteps), with the id as the single feature
# each step has before the embedding widens it to 256.

# %%
ids = pad_sequences(sessions, maxlen=MAXLEN)
print("ids:", ids.shape, ids.dtype, " first row:", ids[0, -10:], "(the end of session 0)")
split = int(0.8 * count)
ids_train, ids_test = ids[:split], ids[split:]
bot_train, bot_test = labels[:split], labels[split:]

# %% [markdown]
# The model, exactly as written:

# %%
model = Sequential()
model.add(Embedding(1024, 256))
model.add(LSTM(128))
model.add(Dropout(0.5))
model.add(Dense(1, activation="sigmoid"))
model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
model.build(ids_train.shape)
model.summary()

# %% [markdown]
# Where the shapes go: (samples, 30) ids → Embedding → (samples, 30, 256) → LSTM reads 30
# timesteps of 256 features and returns its last output, (samples, 128) → Dropout (active only
# while training) → Dense → (samples, 1) probabilities.

# %%
model.fit(ids_train, bot_train, batch_size=32, epochs=pick(full=3, fast=1), validation_split=0.1, verbose=2)
loss, accuracy = model.evaluate(ids_test, bot_test, verbose=0)
print(f"test accuracy: {accuracy:.1%} on {len(ids_test)} sessions (half are crawlers: guessing gives about 50%)")

# %%
probabilities = model.predict(ids_test, verbose=0)[:, 0]
for kind, label in (("people", 0), ("crawlers", 1)):
    chosen = probabilities[bot_test == label]
    print(f"mean predicted probability of 'crawler' for {kind}: {chosen.mean():.2f}")

# %% [markdown]
# The same model that could not forecast a count fits this task: its input is a sequence of ids
# from a fixed vocabulary, its output a yes/no probability. Before borrowing a model, check that
# its input layer matches your data's shape and type, and its output layer your question.
#
# ## What you have seen
#
# * Recurrent layers read (samples, timesteps, features). A long series becomes samples by
#   sliding a window; extra per-step information becomes extra features.
# * Split time series by time, and scale with statistics of the training part only.
# * An `Embedding` turns (samples, timesteps) integer ids into (samples, timesteps, features)
#   vectors; a sigmoid `Dense(1)` makes the model a binary classifier.
#
# ## Exercises
#
# **`padding_mask`**: write a recurrent step that keeps its state where a row is padding, and
# run it over a batch padded like the sessions above:
#
# ```bash
# tinyseq exercise start padding_mask
# tinyseq exercise check padding_mask.py
# ```
#
# It trains what padding must not do: change the result. A padded session has to end in the
# same state, with the same gradients, as the session alone.
#
# ## Try this
#
# 1. **A shorter window.** In section 2 change `TIMESTEPS = 28` to `TIMESTEPS = 7`. Predict the
#    shape of `x` first: one window per start day that leaves a target, so (723, 7, 2). Then
#    compare the forecasts' table: with one week of history the LSTM's error grows (from about
#    87 to about 96 views) and it no longer beats "same as a week before" clearly.
# 2. **A noisier site.** In section 1 change `rng.lognormal(0, 0.08, days)` to
#    `rng.lognormal(0, 0.3, days)`. Predict which forecast suffers most. Every error grows
#    (the noise cannot be forecast), but the LSTM stays the best of the three: it averages
#    over many days where the baselines copy a single noisy day.
# 3. **Shorter sessions.** In section 4 change `PAGES, MAXLEN = 1024, 30` to
#    `PAGES, MAXLEN = 1024, 10`. Predict the shape of `ids` and whether telling crawlers from
#    people gets easier or harder. With at most 10 pages seen per visitor there is less
#    evidence, and the test accuracy falls (from about 93 % to about 86 %).

