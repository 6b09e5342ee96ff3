"""SimpleRNN, GRU and LSTM on IMDB: the walkthrough's model with each cell, measured side by side.

Each run trains Embedding(5000, 32) -> cell(100) -> Dense(1, sigmoid) as `tinyseq imdb train
--cell CELL --seed SEED` does (2 epochs, batches of 128, Adam whose learning rate falls to 0 over
the last epoch, reviews pre-padded and truncated to 500 words), then measures on the test set:

    accuracy and loss overall and by review length: quartiles of the number of words of the
        raw review, before padding or truncation (`tinyseq.experiments.positions`)
    accuracy when only the first or the last k words of each review are kept
    the gradient of each review's loss with respect to the embedded word at each position,
        against its distance from the last word (tinyseq runs only)
    seconds per epoch (validation on the test set included, as `fit` reports it)

With Keras 3 and TensorFlow installed, the same model is trained per cell in Keras (same
prepared arrays, same initialisers by default, the same learning-rate schedule), one seed,
in the same invocation, so its seconds per epoch stand beside tinyseq's for that cell.

    python benchmarks/imdb_cells.py [--cells lstm gru rnn] [--seeds 0 1 2] [--no-keras]
        [--data PATH] [--train-samples N] [--test-samples N] [--maxlen N] [--jobs 1]
        [--output docs/results/imdb-cells.json] [--models build/imdb-cells]
    python benchmarks/imdb_cells.py --report-only        # rewrite the tables and figures
    python benchmarks/imdb_cells.py --merge OTHER.json --report-only   # add another invocation's runs
    python benchmarks/imdb_cells.py --explain docs/results/imdb-explain  # explain chosen test reviews

Every run is its own process with 1 BLAS / TensorFlow thread, so it repeats exactly. The
JSON file is rewritten as each run ends, and a new invocation skips the runs it already holds
(a run interrupted in training resumes from its checkpoint), so a crash loses one run at most.
Beside the JSON it writes `<stem>-accuracy.csv` (cell x length quartile, mean and spread over
seeds), `<stem>-time.csv`, `<stem>-gradients.csv`, and the figures `<stem>-gradients.svg` and
`<stem>-words-kept.svg`. The trained models stay in `--models` (imdb-CELL-SEED.h5).

`--explain FOLDER` picks test reviews by fixed rules (`pick_reviews`) and explains them, and
the walkthrough's two sentences, with the first seed's model of each cell
(`tinyseq.viz.explain`): an SVG figure per review and cell, and the numbers in
`FOLDER/explained.json`.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

CELLS = ("lstm", "gru", "rnn")
WORDS_KEPT = (10, 25, 50, 100, 200)
QUARTILE_NAMES = ("Q1 (shortest)", "Q2", "Q3", "Q4 (longest)")


# ---- one run, in its own process ------------------------------------------------------------------
def test_reviews(settings):
    """The test reviews as unpadded id lists, their labels, and the same padded to maxlen."""
    from tinyseq.datasets import imdb
    from tinyseq.preprocessing.sequence import pad_sequences
    _, (sequences, labels) = imdb.load_data(path=settings["data"], num_words=settings["num_words"])
    sequences, labels = sequences[:settings["test_samples"]], labels[:settings["test_samples"]]
    return sequences, labels, pad_sequences(sequences, maxlen=settings["maxlen"])


def measure(predict, settings):
    """What every run measures on the test set with `predict` (padded ids -> probabilities)."""
    from tinyseq.experiments.positions import (accuracy_keeping_words, length_quartiles, quartile_of, review_lengths,
                                               scores_by_group)
    sequences, labels, padded = test_reviews(settings)
    probabilities = np.asarray(predict(padded)).reshape(-1)
    lengths = review_lengths(sequences)
    edges = length_quartiles(lengths)
    overall, = scores_by_group(probabilities, labels, np.zeros(len(labels), dtype=int), 1)
    kept = settings["kept_reviews"]
    words_kept = {end: {str(words): accuracy_keeping_words(predict, sequences[:kept], labels[:kept], words, end,
                                                           settings["maxlen"])
                        for words in WORDS_KEPT}
                  for end in ("first", "last")}
    whole, = scores_by_group(probabilities[:kept], labels[:kept], np.zeros(min(kept, len(labels)), dtype=int), 1)
    return {"test_accuracy": overall["accuracy"], "test_loss": overall["loss"], "quartile_edges": edges.tolist(),
            "quartiles": scores_by_group(probabilities, labels, quartile_of(lengths, edges), 4),
            "words_kept": words_kept, "kept_reviews_accuracy": whole["accuracy"]}


def run_tinyseq(cell, seed, settings):
    """Train one tinyseq model as `tinyseq imdb train` does, then measure it."""
    import tinyseq.apps.imdb as imdb_app
    from tinyseq.experiments.positions import gradient_by_position
    from tinyseq.models.loading import load_model

    class EpochTimer(imdb_app.EpochTimer):
        """`train_seed_model`'s timer, also recording the process's CPU seconds per epoch."""

        def __init__(self):
            super().__init__()
            self.cpu_seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            super().on_epoch_begin(epoch, logs)
            self.cpu_start = time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            self.cpu_seconds.append(time.process_time() - self.cpu_start)

    timers = []
    # On a shared machine the wall-clock time depends on the load; the CPU time much less so.
    imdb_app.EpochTimer = lambda: timers.append(EpochTimer()) or timers[-1]
    output = os.path.join(settings["models"], f"imdb-{cell}-{seed}.h5")
    result = imdb_app.train_seed_model(output=output, cell=cell, seed=seed, verbose=0, path=settings["data"],
                              train_samples=settings["train_samples"], test_samples=settings["test_samples"],
                              maxlen=settings["maxlen"], num_words=settings["num_words"], epochs=settings["epochs"],
                              resume=os.path.exists(output + ".backup"))
    model = load_model(output, compile=False)
    record = measure(lambda x: model.predict(x, batch_size=500, verbose=0), settings)
    _, labels, padded = test_reviews(settings)
    count = settings["gradient_reviews"]
    record.update(epoch_seconds=result.epoch_seconds, epoch_cpu_seconds=timers[-1].cpu_seconds,
                  parameters=result.parameters, sentences=result.sentences,
                  evaluate_accuracy=result.test_accuracy, model=output,
                  gradients=gradient_by_position(model, padded[:count], labels[:count]).to_json())
    return record


def run_keras(cell, seed, settings):
    """Train the same model in Keras 3 (TensorFlow, 1 thread), timed per epoch, then measure it."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    from tinyseq.apps.imdb import prepare_data
    (x, y), (x_test, y_test) = prepare_data(settings["num_words"], settings["maxlen"], settings["data"],
                                            settings["train_samples"], settings["test_samples"])
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    steps, epochs = -(-len(x) // settings["batch_size"]), settings["epochs"]

    class HoldThenFall(keras.optimizers.schedules.LearningRateSchedule):
        """tinyseq's walkthrough_optimizer schedule: 0.001, falling to 0 over the last epoch."""

        def __call__(self, step):
            left = (epochs * steps - keras.ops.cast(step, "float32")) / steps
            return 1e-3 * keras.ops.clip(left, 0.0, 1.0)

    class EpochTimer(keras.callbacks.Callback):
        """Wall-clock seconds of every epoch, validation included (as tinyseq's EpochTimer)."""

        def __init__(self):
            super().__init__()
            self.seconds, self.cpu_seconds = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.start, self.cpu_start = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)
            self.cpu_seconds.append(time.process_time() - self.cpu_start)

    recurrent = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}[cell]
    model = keras.Sequential([keras.Input((settings["maxlen"],), dtype="int32"),
                              keras.layers.Embedding(settings["num_words"], 32), recurrent(100),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(HoldThenFall()), metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(x, y, validation_data=(x_test, y_test), epochs=epochs, batch_size=settings["batch_size"], verbose=0,
              callbacks=[timer])
    record = measure(lambda ids: model.predict(ids, batch_size=500, verbose=0), settings)
    record.update(epoch_seconds=timer.seconds, epoch_cpu_seconds=timer.cpu_seconds, parameters=model.count_params(),
                  versions={"keras": keras.__version__, "tensorflow": tf.__version__})
    return record


def run_one(system, cell, seed, settings):
    """Run one (system, cell, seed) here and print its record as the last line of stdout."""
    start = time.perf_counter()
    load_before = os.getloadavg()[0]
    record = (run_keras if system == "keras" else run_tinyseq)(cell, seed, settings)
    record.update(system=system, cell=cell, seed=seed, seconds=time.perf_counter() - start,
                  load_average=[load_before, os.getloadavg()[0]])
    print(json.dumps(record))


def launch(system, cell, seed, settings):
    """One run in a fresh process with 1 BLAS thread; returns its record."""
    environment = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    finished = subprocess.run([sys.executable, os.path.abspath(__file__), "--run-one", system, cell, str(seed),
                               json.dumps(settings)], capture_output=True, text=True, env=environment)
    if finished.returncode:
        raise RuntimeError(f"{system} {cell} seed {seed} failed:\n{finished.stderr[-3000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


# ---- the study: runs, resuming, tables and figures --------------------------------------------------
def planned_runs(cells, seeds, keras):
    """The runs in the order they start: each cell's Keras run right after tinyseq's first seed of
    it, so that the two are timed under the same load of the machine."""
    runs = []
    for seed in seeds:
        for cell in cells:
            runs.append(("tinyseq", cell, seed))
            if keras and seed == seeds[0]:
                runs.append(("keras", cell, seed))
    return runs


def spread(values):
    """Mean, lowest, highest and sample standard deviation (0 for one value)."""
    return {"mean": statistics.mean(values), "lowest": min(values), "highest": max(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0, "runs": len(values)}


def by_cell(document, system):
    """The document's runs of `system`, grouped by cell in the study's cell order."""
    groups = {cell: [] for cell in document["cells"]}
    for run in sorted(document["runs"], key=lambda run: run["seed"]):
        if run["system"] == system:
            groups[run["cell"]].append(run)
    return {cell: runs for cell, runs in groups.items() if runs}


def word_ranges(edges):
    """The four length groups of `quartile_of` as ranges of whole words, e.g. "up to 127", "128-174"."""
    tops = [int(np.floor(edge)) for edge in edges]
    return [f"up to {tops[0]}", f"{tops[0] + 1}-{tops[1]}", f"{tops[1] + 1}-{tops[2]}", f"{tops[2] + 1} and more"]


def accuracy_rows(document):
    """Cell x (all reviews, quartile 1..4): accuracy and loss, mean and spread over seeds."""
    rows = []
    for system in ("tinyseq", "keras"):
        for cell, runs in by_cell(document, system).items():
            bounds = word_ranges(runs[0]["quartile_edges"])
            groups = [("all", "all", [r["test_accuracy"] for r in runs], [r["test_loss"] for r in runs],
                       document["test_samples"])]
            groups += [(QUARTILE_NAMES[q], bounds[q], [r["quartiles"][q]["accuracy"] for r in runs],
                        [r["quartiles"][q]["loss"] for r in runs], runs[0]["quartiles"][q]["reviews"])
                       for q in range(4)]
            for name, words, accuracies, losses, reviews in groups:
                accuracy, loss = spread(accuracies), spread(losses)
                rows.append({"system": system, "cell": cell, "reviews": name, "words": words, "count": reviews,
                             "seeds": " ".join(str(r["seed"]) for r in runs),
                             **{f"accuracy_{key}": value for key, value in accuracy.items() if key != "runs"},
                             **{f"loss_{key}": value for key, value in loss.items() if key != "runs"}})
    return rows


def last_epoch(run):
    """Wall-clock and CPU seconds of the run's last epoch (CPU None where not recorded): the
    first epoch of a Keras run also builds its graph, so the last one is the steady state."""
    cpu = run.get("epoch_cpu_seconds")
    return run["epoch_seconds"][-1], cpu[-1] if cpu else None


def time_rows(document):
    """Seconds per epoch per cell: tinyseq's first-seed run beside Keras's (they ran at the same
    time), and tinyseq's last epochs over all its seeds."""
    tinyseq, keras = by_cell(document, "tinyseq"), by_cell(document, "keras")
    rows = []
    for cell, runs in tinyseq.items():
        wall, cpu = last_epoch(runs[0])
        keras_wall, keras_cpu = last_epoch(keras[cell][0]) if cell in keras else (None, None)
        rows.append({"cell": cell, "tinyseq_seed": runs[0]["seed"], "tinyseq_wall": wall, "tinyseq_cpu": cpu,
                     "keras_wall": keras_wall, "keras_cpu": keras_cpu,
                     "wall_ratio": wall / keras_wall if keras_wall else None,
                     "cpu_ratio": cpu / keras_cpu if cpu and keras_cpu else None,
                     "tinyseq_all_seeds_wall": statistics.mean(last_epoch(run)[0] for run in runs)})
    return rows


def write_csv(path, rows):
    """Write dicts as CSV (atomically), with the union of their keys as columns."""
    from tinyseq.experiments.common import csv_text, write_atomically
    write_atomically(path, csv_text(rows))


def plot_words_kept(document, path):
    """Accuracy against the number of words kept, from the start and from the end, per cell."""
    from tinyseq.experiments.common import COLOURS, LABELS, new_figure, save_figure
    figure = new_figure(8.0, 4.0)
    axes = figure.add_subplot()
    for cell, runs in by_cell(document, "tinyseq").items():
        for end, style in (("last", "-"), ("first", "--")):
            mean = [statistics.mean(r["words_kept"][end][str(words)] for r in runs) for words in WORDS_KEPT]
            axes.plot(WORDS_KEPT, mean, style, marker="o", color=COLOURS[cell],
                      label=f"{LABELS[cell]}, {end} k words")
        whole = statistics.mean(r["kept_reviews_accuracy"] for r in runs)
        axes.axhline(whole, color=COLOURS[cell], linewidth=0.8, alpha=0.6)
    axes.set_xscale("log")
    axes.set_xticks(WORDS_KEPT, [str(words) for words in WORDS_KEPT])
    axes.set_xlabel("words kept of each test review (k)")
    axes.set_ylabel("test accuracy")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small", ncols=2)
    axes.set_title("thin lines: the whole review (up to 500 words)", fontsize="small")
    save_figure(figure, path)


def write_report(document, output):
    """The CSV tables and figures beside `output`, from the runs in `document`; prints the tables."""
    from tinyseq.experiments.positions import PositionGradients, plot_gradient_by_position
    stem = os.path.splitext(output)[0]
    accuracy, times = accuracy_rows(document), time_rows(document)
    write_csv(f"{stem}-accuracy.csv", accuracy)
    write_csv(f"{stem}-time.csv", times)
    tinyseq = by_cell(document, "tinyseq")
    curves = {cell: [PositionGradients.from_json(r["gradients"]) for r in runs] for cell, runs in tinyseq.items()}
    gradient_rows = [{"cell": cell, "seed": run["seed"], "distance": distance, "reviews": int(curve.reviews[distance]),
                      "mean_norm": float(curve.mean_norm[distance])}
                     for cell, runs in tinyseq.items() for run, curve in zip(runs, curves[cell])
                     for distance in range(len(curve.reviews)) if curve.reviews[distance]]
    write_csv(f"{stem}-gradients.csv", gradient_rows)
    plot_gradient_by_position(curves, f"{stem}-gradients.svg")
    plot_words_kept(document, f"{stem}-words-kept.svg")
    print("\naccuracy (mean, lowest-highest over seeds):")
    for row in accuracy:
        print(f"  {row['system']:8s} {row['cell']:5s} {row['reviews']:14s} {row['words']:>13s} "
              f"{row['accuracy_mean']:7.2%} ({row['accuracy_lowest']:.2%}-{row['accuracy_highest']:.2%})  "
              f"loss {row['loss_mean']:.3f}  seeds {row['seeds']}")
    print("seconds of the last epoch (wall-clock / CPU; validation included):")
    shown = lambda value, form: "-" if value is None else format(value, form)
    for row in times:
        print(f"  {row['cell']:5s} tinyseq {shown(row['tinyseq_wall'], '.1f')} / {shown(row['tinyseq_cpu'], '.1f')}   "
              f"Keras {shown(row['keras_wall'], '.1f')} / {shown(row['keras_cpu'], '.1f')}   tinyseq/Keras "
              f"{shown(row['wall_ratio'], '.2f')} / {shown(row['cpu_ratio'], '.2f')}   (tinyseq, all seeds: "
              f"{row['tinyseq_all_seeds_wall']:.1f} wall)")


# ---- explained reviews: what the seed-0 model of each cell does word by word ------------------------
WALKTHROUGH_SENTENCES = {"walkthrough-liked": "i really liked the movie and had fun",
                         "walkthrough-terrible": "this movie was terrible and bad"}


def shortest_with(texts, labels, lengths, phrase, label):
    """The index of the shortest review of `label` whose text holds `phrase` as whole words."""
    found = [i for i, text in enumerate(texts) if f" {phrase} " in f" {text} " and labels[i] == label]
    return min(found, key=lambda i: (lengths[i], i))


def pick_reviews(models, settings):
    """Test reviews to explain, by rules rather than by eye: {name: (test index, why)}.

    negation-not-bad / negation-not-good: the shortest positive review holding "not bad at all"
        and the shortest negative one holding "not good".
    turn: of the first 2,000 test reviews with 100 to 300 words, the one whose first half the LSTM
        rates most strongly against its label while it rates the whole review right.
    long: the first test review with 450 to 499 words (read whole: the start marker fills id 500).
    """
    from tinyseq.datasets import imdb
    from tinyseq.experiments.positions import keep_words, review_lengths
    from tinyseq.models.loading import load_model
    from tinyseq.preprocessing.sequence import pad_sequences
    sequences, labels, padded = test_reviews(settings)
    lengths = review_lengths(sequences)
    _, (all_words, _) = imdb.load_data(path=settings["data"])
    texts = [imdb.decode_review(ids[1:], path=settings["data"]) for ids in all_words[:len(sequences)]]
    picked = {"negation-not-bad": (shortest_with(texts, labels, lengths, "not bad at all", 1),
                                   'the shortest positive test review holding "not bad at all"'),
              "negation-not-good": (shortest_with(texts, labels, lengths, "not good", 0),
                                    'the shortest negative test review holding "not good"')}
    lstm = load_model(models["lstm"], compile=False)
    candidates = [i for i in range(min(2000, len(sequences))) if 100 <= lengths[i] <= 300]
    whole = lstm.predict(padded[candidates], batch_size=500, verbose=0)[:, 0]
    halves = pad_sequences([keep_words([sequences[i]], int(lengths[i]) // 2, "first")[0] for i in candidates],
                           maxlen=settings["maxlen"])
    half = lstm.predict(halves, batch_size=500, verbose=0)[:, 0]
    signs = np.where(labels[candidates] == 1, 1.0, -1.0)
    turned = (signs * (whole - 0.5) > 0.3) & (signs * (half - 0.5) < 0)
    if turned.any():
        score = np.where(turned, -signs * (half - 0.5), -np.inf)
        picked["turn"] = (candidates[int(np.argmax(score))],
                          "of the first 2,000 test reviews with 100-300 words, the one whose first half the LSTM "
                          "rates most strongly against its label while rating the whole review right")
    else:
        print("(no test review turns for the LSTM: it rates every first half as the whole review)")
    picked["long"] = (next(i for i in range(len(sequences)) if 450 <= lengths[i] <= 499),
                      "the first test review with 450-499 words")
    return {name: {"index": index, "why": why, "text": texts[index], "label": int(labels[index]),
                   "words": int(lengths[index])} for name, (index, why) in picked.items()}


def explain_reviews(models, settings, folder):
    """Explain the picked reviews and the walkthrough's sentences with each cell's model: an SVG
    per review and cell in `folder`, and the numbers in `folder/explained.json`."""
    from tinyseq.files import atomic_write
    from tinyseq.viz.explain import explain_review, explanation_to_svg
    os.makedirs(folder, exist_ok=True)
    reviews = pick_reviews(models, settings)
    reviews.update({name: {"text": text, "why": "the walkthrough's example"}
                    for name, text in WALKTHROUGH_SENTENCES.items()})
    for name, review in reviews.items():
        review["cells"] = {}
        for cell, path in models.items():
            explanation = explain_review(path, review["text"])
            with atomic_write(os.path.join(folder, f"{name}-{cell}.svg"), "w") as file:
                file.write(explanation_to_svg(explanation))
            middle = len(explanation.words) // 2
            review["cells"][cell] = {
                "probability": explanation.probability, "at_middle": float(explanation.predictions[middle]),
                "lowest": float(explanation.predictions.min()), "highest": float(explanation.predictions.max()),
                "words": explanation.words, "predictions": explanation.predictions.round(4).tolist(),
                "gates": {gate: values.round(4).tolist() for gate, values in explanation.gates.items()},
                "hidden": explanation.hidden.round(4).tolist()}
            print(f"  {name:22s} {cell:5s} label {review.get('label', '-')}: {explanation.probability:.3f} at the end, "
                  f"{review['cells'][cell]['at_middle']:.3f} halfway, range {review['cells'][cell]['lowest']:.3f}-"
                  f"{review['cells'][cell]['highest']:.3f}", flush=True)
    with atomic_write(os.path.join(folder, "explained.json"), "w") as file:
        json.dump(reviews, file, indent=1)


def load_document(output, settings):
    """The results written so far, or a fresh document; refuses a file made with other settings."""
    if not os.path.exists(output):
        return {"settings": settings, "runs": []}
    with open(output, encoding="utf-8") as file:
        document = json.load(file)
    if document["settings"] != settings:
        differences = sorted(key for key in settings if document["settings"].get(key) != settings[key])
        raise SystemExit(f"{output} holds runs made with other settings ({', '.join(differences)}): "
                         f"give another --output, or the same settings")
    return document


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--no-keras", action="store_true", help="skip the Keras runs (default: run them if installed)")
    parser.add_argument("--data", help="the IMDB archive or folder (default: TINYSEQ_DATA, then the cache)")
    parser.add_argument("--train-samples", type=int, help="the first N training reviews (default: all 25,000)")
    parser.add_argument("--test-samples", type=int, help="the first N test reviews (default: all 25,000)")
    parser.add_argument("--maxlen", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--gradient-reviews", type=int, default=1000,
                        help="test reviews the gradient by position is averaged over (default 1000)")
    parser.add_argument("--kept-reviews", type=int, default=5000,
                        help="test reviews the first/last-k-words accuracy is measured on (default 5000)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (default 1)")
    parser.add_argument("--output", default="docs/results/imdb-cells.json")
    parser.add_argument("--models", default="build/imdb-cells", help="where the trained models are kept")
    parser.add_argument("--report-only", action="store_true", help="only rewrite the tables and figures")
    parser.add_argument("--merge", nargs="+", metavar="JSON", default=[],
                        help="first add the runs of these result files (other invocations with the same settings, "
                             "e.g. on other machines) that --output does not hold yet")
    parser.add_argument("--explain", metavar="FOLDER",
                        help="explain chosen test reviews with the seed-0 models of --models into FOLDER (SVG figures "
                             "and explained.json), instead of training")
    parser.add_argument("--run-one", nargs=4, metavar=("SYSTEM", "CELL", "SEED", "SETTINGS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        system, cell, seed, settings = args.run_one
        return run_one(system, cell, int(seed), json.loads(settings))

    import importlib.util
    keras = not args.no_keras and all(importlib.util.find_spec(m) for m in ("keras", "tensorflow"))
    if not args.no_keras and not keras:
        print("(Keras 3 or TensorFlow is not installed: the Keras runs are skipped)")
    settings = {"epochs": args.epochs, "batch_size": 128, "maxlen": args.maxlen, "num_words": 5000,
                "train_samples": args.train_samples, "test_samples": args.test_samples,
                "gradient_reviews": args.gradient_reviews, "kept_reviews": args.kept_reviews,
                "data": os.path.abspath(args.data) if args.data else None, "models": os.path.abspath(args.models)}
    document = load_document(args.output, settings)
    document.update(cells=args.cells, test_samples=args.test_samples or 25_000)
    for path in args.merge:
        held = {(run["system"], run["cell"], run["seed"]) for run in document["runs"]}
        document["runs"] += [run for run in load_document(path, settings)["runs"]
                             if (run["system"], run["cell"], run["seed"]) not in held]
    if args.merge:
        from tinyseq.files import atomic_write
        with atomic_write(args.output, "w") as file:
            json.dump(document, file, indent=1)
    if args.report_only:
        return write_report(document, args.output)
    if args.explain:
        models = {cell: os.path.join(args.models, f"imdb-{cell}-{args.seeds[0]}.h5") for cell in args.cells}
        return explain_reviews(models, settings, args.explain)

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from imdb_epoch import openblas_kernels
    from tinyseq.files import atomic_write
    document["machine"] = {"processor": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                           "python": platform.python_version(), "numpy": np.__version__,
                           "openblas_kernels": openblas_kernels(), "threads_per_run": 1,
                           "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}
    document["command"] = " ".join(["python", *sys.argv])
    os.makedirs(args.models, exist_ok=True)
    done = {(run["system"], run["cell"], run["seed"]) for run in document["runs"]}
    runs = [run for run in planned_runs(args.cells, args.seeds, keras) if run not in done]
    print(f"{len(done)} runs already in {args.output}; {len(runs)} to go, {args.jobs} at a time", flush=True)
    lock, failures = threading.Lock(), []

    def run_and_record(run):
        try:
            record = launch(*run, settings)
        except RuntimeError as error:
            failures.append(str(error))
            print(error, flush=True)
            return
        with lock:
            document["runs"].append(record)
            with atomic_write(args.output, "w") as file:
                json.dump(document, file, indent=1)
            print(f"{time.strftime('%H:%M:%S')}  {run[0]:8s} {run[1]:5s} seed {run[2]}: accuracy "
                  f"{record['test_accuracy']:.2%}, s/epoch {', '.join(f'{s:.1f}' for s in record['epoch_seconds'])}, "
                  f"{record['seconds']:.0f} s in all", flush=True)

    with ThreadPoolExecutor(args.jobs) as executor:
        list(executor.map(run_and_record, runs))
    if document["runs"]:
        write_report(document, args.output)
    if failures:
        raise SystemExit(f"{len(failures)} run(s) failed; run the same command again to retry them")


if __name__ == "__main__":
    main()
