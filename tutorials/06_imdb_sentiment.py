# %% [markdown]
# # IMDB sentiment, step by step
#
# The most copied recurrent-network example is Keras's IMDB sentiment classifier: read a movie
# review, say whether it is positive or negative. This tutorial walks through it in tinyseq, with
# the same calls you would write in Keras, one step at a time:
#
# 1. **load** the reviews as sequences of word ids,
# 2. **decode** them back to words, with the correct offsets (and see why adding 1 gives nonsense),
# 3. **pad** them to one length,
# 4. **build** the model and read its **summary**,
# 5. **fit** and **evaluate** it,
# 6. **predict** the sentiment of your own text,
# 7. **save** the model and **load** it back.
#
# Training the full model takes far longer than building this page may, so the page trains a
# **demo model** briefly on a small slice, to see every call work, and then shows the results of
# full runs that the command line tool recorded.
#
# !!! note "The data"
#     tinyseq builds the dataset from the original Large Movie Review Dataset (Maas et al., 2011):
#     50,000 reviews, half for training and half for testing, each half balanced. The first
#     `load_data` reads the archive named by the `TINYSEQ_DATA` environment variable (or
#     downloads it, 80 MB) and caches the result.

# %%
import tempfile
from pathlib import Path

import numpy as np

import tinyseq as ts
from tinyseq.datasets import imdb
from tinyseq.layers import LSTM, Dense, Embedding
from tinyseq.models import Sequential, load_model
from tinyseq.preprocessing.sequence import pad_sequences
from tinyseq.course import load_result, pick, show, table, use_plain_matplotlib

plt = use_plain_matplotlib()
ts.random.seed(7)

# %% [markdown]
# ## 1. Load
#
# `num_words=5000` keeps the 5,000 most useful ids; rarer words become a single "unknown" id.
# Each review is a list of integers; each label is 0 (negative) or 1 (positive).

# %%
NUM_WORDS = 5000
(x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=NUM_WORDS)
lengths = [len(review) for review in x_train]
print(f"{len(x_train)} training reviews, {len(x_test)} test reviews")
print(f"positive share: train {np.mean(y_train):.1%}, test {np.mean(y_test):.1%}")
print(f"review length in ids: median {int(np.median(lengths))}, 90th percentile "
      f"{int(np.percentile(lengths, 90))}, longest {max(lengths)}")
print("the first review starts:", x_train[0][:12], " label:", y_train[0])

# %% [markdown]
# ## 2. Decode, with the right offsets
#
# How do the ids relate to words? `get_word_index()` gives every word its **frequency rank**:
# 1 for the most frequent word, 2 for the next, and so on. The ids in the data are the ranks
# shifted by **3**, because the three smallest ids are reserved:
#
# | id | meaning |
# |---:|---|
# | 0 | padding (added by `pad_sequences`) |
# | 1 | start of a review |
# | 2 | a word outside the vocabulary (rare, or beyond `num_words`) |
# | rank + 3 | the word of that rank |
#
# So to turn an id back into a word, subtract 3 and look the rank up:

# %%
word_index = imdb.get_word_index()                         # word -> rank
word_of_rank = {rank: word for word, rank in word_index.items()}
for word in ("the", "movie", "great"):
    print(f"{word!r}: rank {word_index[word]}, id {word_index[word] + 3}")


def decode(ids, offset=3):
    reserved = {0: "<pad>", 1: "<start>", 2: "<unknown>"}
    return " ".join(reserved.get(i) or word_of_rank.get(i - offset, "?") for i in ids)


print()
print("correct (offset 3):", decode(x_train[0][:20]))

# %% [markdown]
# A common mistake is to reason "id 0 is padding, so words start at 1" and shift by 1 instead of
# 3. Every word then comes out as the word *two ranks further down* the frequency list:

# %%
wrong_offset = 1
print(f"wrong (offset {wrong_offset}):  ", decode(x_train[0][:20], offset=wrong_offset))

# %% [markdown]
# The result still *looks* like English words, which is what makes the mistake easy to miss,
# but it reads as nonsense. tinyseq's own `imdb.decode_review` applies the offset for you:

# %%
print(imdb.decode_review(x_train[0][:20]))

# %% [markdown]
# ## 3. Pad
#
# A batch must be one rectangular array, but reviews have different lengths. `pad_sequences`
# makes every review `maxlen` ids long: shorter ones get zeros **in front**, longer ones lose
# their **beginning** (Keras's defaults, `padding="pre"` and `truncating="pre"`). Padding in
# front puts the real words next to the end of the sequence, where the LSTM's final output is
# read. The walkthrough uses 500 ids per review.

# %%
MAXLEN = 500
short = min(range(len(x_train)), key=lambda i: len(x_train[i]))
padded = pad_sequences([x_train[short]], maxlen=MAXLEN)[0]
print(f"review {short} has {len(x_train[short])} ids; padded to {len(padded)}:")
print("  first 8:", padded[:8], " last 8:", padded[-8:])
print("  ", imdb.decode_review(padded[-len(x_train[short]) - 2:]))

# %% [markdown]
# ## 4. Build, and read the summary
#
# The walkthrough's model: an `Embedding` turns each id into a vector of 32 learned numbers, an
# `LSTM` with 100 units reads the 500 vectors, and a `Dense` layer with a sigmoid turns its last
# output into the probability that the review is positive.

# %%
model = Sequential()
model.add(Embedding(NUM_WORDS, 32, input_length=MAXLEN))
model.add(LSTM(100))
model.add(Dense(1, activation="sigmoid"))
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
model.summary()

# %% [markdown]
# Where the parameter counts come from:
#
# * Embedding: one 32-number vector per id, \(5000 \times 32\).
# * LSTM: four gates, each with input weights, recurrent weights and a bias,
#   \(4 \times (32 \times 100 + 100 \times 100 + 100)\) (see [tutorial 4](04-lstm.md)).
# * Dense: \(100\) weights and \(1\) bias.

# %%
counts = {"Embedding": NUM_WORDS * 32, "LSTM": 4 * (32 * 100 + 100 * 100 + 100), "Dense": 100 + 1}
table(["layer", "by the formula", "as built"],
      [[name, f"{count:,}", f"{layer.count_params():,}"] for (name, count), layer in zip(counts.items(), model.layers)])

# %% [markdown]
# ## 5. Fit and evaluate
#
# The walkthrough trains on every training review, padded to 500 ids, for two epochs; the
# results of real runs are below. Here we train a **demo model** instead, so that this page
# builds quickly: the same layers on the first few thousand reviews of the training set, cut to
# their last 200 ids. Every call is the real one; only the amount of data and training is small.

# %%
SLICE, SHORT, EPOCHS = pick(full=4000, fast=256), pick(full=200, fast=80), pick(full=2, fast=1)
demo = Sequential([Embedding(NUM_WORDS, 32, input_length=SHORT), LSTM(100), Dense(1, activation="sigmoid")])
demo.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
x_slice = pad_sequences(x_train[:SLICE], maxlen=SHORT)
history = demo.fit(x_slice, y_train[:SLICE], batch_size=64, epochs=EPOCHS, verbose=2)

# %%
x_check = pad_sequences(x_test[:pick(full=2000, fast=256)], maxlen=SHORT)
loss, accuracy = demo.evaluate(x_check, y_test[:len(x_check)], verbose=0)
full_run = load_result("imdb-train")          # the walkthrough's full run, recorded (see below)
print(f"on {len(x_check)} test reviews: loss {loss:.4f}, accuracy {accuracy:.1%}")
print(f"This is a demo model ({SLICE:,} reviews of {SHORT} ids, {EPOCHS} epoch{'s' * (EPOCHS > 1)}): "
      f"expect {'near-chance answers' if accuracy < 0.6 else f'about {1 - accuracy:.0%} wrong answers'}. "
      f"The full run ({full_run['settings']['train_samples']:,} reviews of {full_run['settings']['maxlen']} ids, "
      f"{full_run['settings']['epochs']} epochs) gives {full_run['test_accuracy']:.1%}.")

# %% [markdown]
# Full-size training is the job of the command line tool, `tinyseq imdb train`: it runs the
# whole walkthrough (load, pad, build, fit with the test set as validation data, evaluate, save,
# predict) and, given `--results`, writes its measurements to a JSON file. tinyseq ships the
# files these commands wrote; `load_result` reads them:

# %%
runs = []
for entry in load_result("manifest")["imdb"]:
    result = load_result(entry["file"].removesuffix(".json"))
    runs.append((entry, result))
    print("$", entry["command"])

# %%
rows = []
for entry, result in runs:
    settings = result["settings"]
    speed_ups = [name for name, used in (("masking", settings.get("mask_zero")),
                                         ("length buckets", settings.get("bucket_by_length"))) if used]
    rows.append([f"{settings['train_samples']:,} × {settings['maxlen']} ids", " + ".join(speed_ups) or "none",
                 "falls in the last epoch" if settings["decay_learning_rate"] else "constant",
                 settings["epochs"], f"{result['test_accuracy']:.1%}", f"{result['test_loss']:.3f}",
                 " + ".join(f"{s:.0f}" for s in result["epoch_seconds"]) + " s",
                 f"{result['machine']['cores']} cores, numpy {result['machine']['numpy']}"])
table(["training data", "speed-ups", "learning rate", "epochs", "test accuracy", "test loss", "time per epoch",
       "machine"], rows)

# %% [markdown]
# The learning rate of these runs falls to 0 over the last epoch instead of staying at Keras's
# constant 0.001: why, and how much one run can differ from the next, is the subject of its own
# page, [One run is one draw](../explanation/seeds-and-schedules.md). The third run added the
# two speed-ups of `--mask-zero --bucket`. With the padding masked, the LSTM carries its state
# over padding, so each review is run only from its first word on
# ([tutorial 8](08-fused-kernel.md) shows how); length buckets put reviews of similar length in
# the same batch, so fewer steps run at all. Both leave the model and its mathematics as they
# are, but the buckets change which reviews share a batch, and with that the path training
# takes, so its accuracy differs a little, as another seed's would.
#
# The walkthrough's own run (the second row), epoch by epoch:

# %%
figure, axes = plt.subplots()
epochs = np.arange(1, len(full_run["history"]["accuracy"]) + 1)
axes.plot(epochs, full_run["history"]["accuracy"], marker="o", label="training accuracy")
axes.plot(epochs, full_run["history"]["val_accuracy"], marker="o", label="test accuracy")
axes.set(xlabel="epoch", ylabel="accuracy", xticks=epochs, ylim=(0.4, 1.0),
         title=f"IMDB, {full_run['settings']['train_samples']:,} reviews of {full_run['settings']['maxlen']} ids")
axes.legend()
show(figure, "imdb-history")

# %% [markdown]
# ## 6. Predict your own text
#
# New text must be encoded exactly as the training data was: the same tokenizer, the same
# ranks, the same offset of 3, a start id in front, and the same padding. `imdb.encode_text`
# does the first part:

# %%
sentences = ["i really liked the movie and had fun", "professional disappointment"]
for text in sentences:
    print(f"{text!r} -> {imdb.encode_text(text, num_words=NUM_WORDS)}")

# %% [markdown]
# Pad, and ask the demo model trained on this page for the probability that each text is
# positive. Remember what it is: a model that saw a few thousand short reviews (a few hundred in
# a quick run), so its answers show how `predict` is called, not what the model can learn.

# %%
encoded = pad_sequences([imdb.encode_text(text, num_words=NUM_WORDS) for text in sentences], maxlen=SHORT)
print(f"the demo model ({accuracy:.0%} on test reviews; the full run: {full_run['test_accuracy']:.0%}):")
for text, probability in zip(sentences, demo.predict(encoded, verbose=0)[:, 0]):
    print(f"  {probability:.3f}  {text!r}")

# %% [markdown]
# The model of the walkthrough's full run, asked the same two sentences (the command line tool
# does this at the end of training, and `tinyseq imdb predict MODEL "your text"` asks it anything):

# %%
table(["text", "probability of positive", "verdict"],
      [[text, f"{p:.3f}", "positive" if p > 0.5 else "negative"] for text, p in full_run["sentences"].items()])

# %% [markdown]
# ## 7. Save and load
#
# `model.save(path)` writes the layers, their weights and the optimizer's state to one file;
# `load_model(path)` rebuilds the model from it. The loaded model must predict exactly what the
# saved one did:

# %%
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "imdb-demo.h5"
    demo.save(path)
    print(f"saved {path.name}: {path.stat().st_size / 1024:.0f} KiB")
    again = load_model(path)
    same = np.array_equal(again.predict(encoded, verbose=0), demo.predict(encoded, verbose=0))
    print("the loaded model predicts exactly the same:", same)

# %% [markdown]
# !!! note "The file opens in Keras too"
#     A name ending in `.h5` gives Keras's HDF5 model file, and `.keras` Keras 3's own format:
#     `keras.models.load_model("imdb.h5")` opens what tinyseq saved, and tinyseq's `load_model`
#     opens a model Keras saved, with the same predictions ([Coming from
#     Keras](../how-to/coming-from-keras.md#model-files) has the details).
#
# `model.save` stores the model, not the word index that turns text into its ids, so encoding
# new text for it needs the dataset again. `tinyseq imdb train` stores both: its model file
# holds the kept words and the id rules, and `tinyseq imdb predict` and `tinyseq imdb explain`
# then work with no dataset at hand (`explain` shows, word by word, what the model would say
# if the review ended there). A model of your own gets the same with
# `save_with_preprocessing(model, path, imdb.text_preprocessing(num_words=NUM_WORDS, maxlen=...))`
# from `tinyseq.preprocessing.text`.
#
# ## What you have seen
#
# * IMDB reviews are lists of ids; an id is a word's frequency rank **plus 3**, with 0, 1 and 2
#   reserved for padding, the start mark and unknown words. Shift by anything else and the
#   decoded text turns into plausible-looking nonsense.
# * `pad_sequences` makes the lists one length, padding and truncating at the front.
# * The model is Embedding(5000, 32) → LSTM(100) → Dense(1, sigmoid); its parameter count
#   follows from the layer sizes.
# * A demo model trained for seconds shows the calls, not the accuracy: the full run's numbers
#   come from `tinyseq imdb train`, recorded and shipped with tinyseq.
# * New text is encoded with the same tokenizer and offsets, padded, and passed to `predict`.
# * `save` and `load_model` round-trip a model exactly.
#
# ## Exercises
#
# **`padding_mask`** (the exercise of [tutorial 7](07-samples-timesteps-features.md), and the
# reason `--mask-zero` above changes nothing but the time): write a recurrent step that keeps
# its state where a row is padding, and run it over a padded batch.
#
# ```bash
# tinyseq exercise start padding_mask
# tinyseq exercise check padding_mask.py
# ```
#
# It trains what masking means: a padded review must give the same final state, and the same
# gradients, as the review alone.
#
# ## Try this
#
# 1. **Another wrong offset.** In section 2 change `wrong_offset = 1` to `wrong_offset = 2`.
#    Predict the first decoded word after `<start>`: the correct one is "this", rank 10; with
#    an offset one too small every word is the word one rank further down, so "that" (rank
#    11). Run it and read the rest of the sentence: still words, still nonsense.
# 2. **Padding at the end.** In section 3 change
#    `padded = pad_sequences([x_train[short]], maxlen=MAXLEN)[0]` to
#    `padded = pad_sequences([x_train[short]], maxlen=MAXLEN, padding="post")[0]`. Predict the
#    first and last 8 ids before you run. The review now starts the array and the zeros fill
#    its end, so an LSTM without a mask would read hundreds of padding steps after the last
#    word before its output is taken: the reason Keras pads in front.
# 3. **A smaller LSTM.** In section 4 change `model.add(LSTM(100))` to `model.add(LSTM(50))`.
#    Work out the parameter count it will print with the formula first:
#    \(4 \times (32 \times 50 + 50 \times 50 + 50) = 16{,}600\), and the Dense layer's 51. (The
#    table's "by the formula" column still uses 100 units: change it too, and both agree.)

