"""`tinyseq imdb train|predict|explain`: the classic Keras IMDB walkthrough as a job, your own
text through the model it trains, and a look at what the model does at each word.

Embedding(5000, 32) -> LSTM(100) -> Dense(1, sigmoid), adam, binary cross-entropy, batch 128,
2 epochs, reviews padded to 500 words: 213,301 parameters (`--cell gru` or `rnn` puts GRU(100)
or SimpleRNN(100) in the LSTM's place). `tinyseq imdb train` calls `train_seed_model` and
prints what it returns; `tinyseq imdb predict` runs `predict_texts`; `tinyseq imdb explain`
runs `tinyseq.viz.explain.explain_review`. The model file carries the word index it was
trained with, so the last two need no dataset.

tinyseq changes one thing in the recipe, unless told not to: Adam's learning rate (0.001, as
the walkthrough's) falls linearly to 0 over the last epoch (`walkthrough_optimizer`).

A run keeps what it has earned: a checkpoint `OUTPUT.backup` is written every epoch and on
Ctrl-C, holding the run's settings too, and removed only once the model file is written.
`--resume` continues from it exactly, and refuses settings that would not continue exactly.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import shlex
import sys
import time
import zlib
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import random
from ..datasets import imdb
from ..datasets.aclimdb import DatasetError
from ..files import atomic_write
from ..models.callbacks import BackupAndRestore, Callback, NonFiniteLossError, TerminateOnNaN
from ..models.loading import load_model
from ..models.saving import read_metadata
from ..models.sequential import Sequential
from ..nn import activations
from ..nn.core import Dense, Embedding
from ..nn.recurrent import GRU, LSTM, SimpleRNN
from ..optimizers import Adam
from ..preprocessing.sequence import pad_sequences
from ..preprocessing.text import read_preprocessing, save_with_preprocessing, tokenize
from ..schedules import LinearDecay
from ..viz.explain import explain_review, explanation_to_ansi, explanation_to_html, explanation_to_svg
from .arguments import CommandError, at_least, distinct_files, existing_path, positive_int, readable_file, \
    runs, unwritable_reason, writable_file

WALKTHROUGH_SENTENCES = ("i really liked the movie and had fun", "professional disappointment")


# The recurrent layer of the model, by the name `--cell` takes.
CELLS = {"lstm": LSTM, "gru": GRU, "rnn": SimpleRNN}


def build_seed_model(num_words=5000, maxlen=500, embedding_size=32, units=100, mask_zero=False, optimizer="adam",
                     cell="lstm"):
    """The walkthrough's model, compiled as it compiles it (with `optimizer`, by default "adam").

    `cell` picks the recurrent layer: "lstm" (the walkthrough's), "gru" or "rnn" (SimpleRNN),
    each with `units` units and Keras's initialisers; everything else stays the same. With
    `mask_zero`, padding (id 0) is masked: the recurrent layer carries its state over padded
    steps, so it runs each review from its first word on (`benchmarks/README.md` times an epoch
    with and without it).
    """
    check_cell(cell, "build_seed_model")
    model = Sequential([Embedding(num_words, embedding_size, input_length=maxlen, mask_zero=mask_zero),
                        CELLS[cell](units), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    return model


def check_cell(cell, function):
    """Raise a ValueError naming `function` unless `cell` is a name in CELLS."""
    if cell not in CELLS:
        raise ValueError(f"{function}: cell must be one of {', '.join(map(repr, CELLS))}, got {cell!r}")


def walkthrough_optimizer(steps_per_epoch, epochs, decay_learning_rate=True):
    """Adam at the walkthrough's learning rate, 0.001; with `decay_learning_rate`, held there for
    all epochs but the last, over which it falls linearly to 0.

    Why the fall: at a constant 0.001 the weights still jump from batch to batch at the end of
    the second epoch, so the test accuracy depends on where the last batches left them; runs
    that differ only in their seed end points apart. Letting the step size fall over the last
    epoch lets them settle (the figures over 11 seeds are in `benchmarks/README.md`).
    """
    if not decay_learning_rate:
        return Adam(1e-3)
    return Adam(LinearDecay(1e-3, decay_steps=steps_per_epoch, hold_steps=steps_per_epoch * (epochs - 1)))


# Ids 0 to 3 hold no word (0 pads, 1 starts a review, 2 stands for unknown words, and 3 is
# never used: the most frequent word has rank 1, so id 1 + index_from = 4). A vocabulary of
# num_words ids keeps the num_words - 4 most frequent words, so 5 is the smallest useful one.
MIN_NUM_WORDS = 5

# What --quick changes; options given explicitly still win.
QUICK = {"train_samples": 2000, "test_samples": 1000, "maxlen": 100}
FULL = {"train_samples": None, "test_samples": None, "maxlen": 500}


def prepare_data(num_words=5000, maxlen=500, path=None, train_samples=None, test_samples=None):
    """Load IMDB with the top `num_words` words and pad/truncate every review to `maxlen` ids.

    `train_samples` / `test_samples` take the first N (already shuffled) reviews of each split.
    """
    (x_train, y_train), (x_test, y_test) = imdb.load_data(path=path, num_words=num_words)
    x_train, y_train = x_train[:train_samples], y_train[:train_samples]
    x_test, y_test = x_test[:test_samples], y_test[:test_samples]
    return (pad_sequences(x_train, maxlen=maxlen), y_train), (pad_sequences(x_test, maxlen=maxlen), y_test)


def predict_texts(model, texts, path=None, preprocessing=None):
    """The model's positive-sentiment probability for each text.

    `preprocessing` (a `TextPreprocessing`, e.g. `read_preprocessing(model_file)`) turns the
    texts into ids; without it, it is rebuilt from the IMDB data at `path` (as `load_data`
    finds it) for the model's vocabulary and input length.
    """
    if preprocessing is None:
        preprocessing = imdb.text_preprocessing(num_words=model.layers[0].input_dim, maxlen=model.input_shape[1],
                                                path=path)
    return model.predict(preprocessing.transform(texts), verbose=0)[:, 0]


class EpochTimer(Callback):
    """Records the wall-clock seconds of every epoch (validation included)."""

    def __init__(self):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        """Note when the epoch starts."""
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        """Record the seconds since the epoch started."""
        self.seconds.append(time.perf_counter() - self.start)


@dataclass
class IMDBResult:
    """What a training run measured."""
    test_loss: float
    test_accuracy: float
    epoch_seconds: list
    history: dict
    sentences: dict
    parameters: int
    settings: dict
    machine: dict = field(default_factory=lambda: {
        "python": platform.python_version(), "numpy": np.__version__,
        "processor": platform.processor() or platform.machine(), "cores": os.cpu_count()})

    def save(self, path):
        """Write the result as JSON (atomically)."""
        with atomic_write(path, "w") as file:
            json.dump(asdict(self), file, indent=1)


def sentiment_model_problem(model):
    """Why `model` cannot be read as a binary sentiment model of IMDB word ids, or None if it can.

    It must take padded sequences of word ids into an Embedding whose vocabulary holds at least
    one word (`MIN_NUM_WORDS`), and end in one sigmoid unit: the probability of "positive".
    """
    if not model.layers:
        return "it has no layers"
    first, last = model.layers[0], model.layers[-1]
    if not isinstance(first, Embedding):
        return f"its first layer is {type(first).__name__}, not an Embedding of word ids"
    if model.input_shape is None or len(model.input_shape) != 2 or not model.input_shape[1]:
        return f"its input shape {model.input_shape} is not (batch, review length)"
    if first.input_dim < MIN_NUM_WORDS:
        return (f"its Embedding has input_dim {first.input_dim}, so it knows no word (ids 0 to 3 are "
                f"reserved; at least {MIN_NUM_WORDS} are needed)")
    output_shape = model.compute_output_shape(model.input_shape)
    if tuple(output_shape[1:]) != (1,) or getattr(last, "activation", None) is not activations.sigmoid:
        activation = getattr(getattr(last, "activation", None), "__name__", "none")
        return (f"its output is {output_shape[1:]} with activation {activation}, not one sigmoid unit "
                f"(the probability that a review is positive)")
    return None


@contextlib.contextmanager
def reading_imdb():
    """Turn the dataset loader's errors (no data there, damaged data, a failed download) into
    CommandErrors; their messages already say what to do."""
    try:
        yield
    except (FileNotFoundError, DatasetError, RuntimeError) as error:
        raise CommandError(" ".join(str(error).split())) from None


# The settings a checkpoint was made with, each by the command-line flag that sets it.
RUN_SETTINGS = {"cell": "--cell", "epochs": "--epochs", "batch_size": "--batch-size", "maxlen": "--maxlen",
                "num_words": "--num-words", "train_samples": "--quick (training reviews)",
                "test_samples": "--quick (test reviews)", "seed": "--seed", "mask_zero": "--mask-zero",
                "bucket_by_length": "--bucket", "constant_learning_rate": "--constant-learning-rate",
                "data": "--data (the training reviews' checksum)"}


# What a checkpoint written before a setting existed ran with: every run was an LSTM's.
OLDER_CHECKPOINTS = {"cell": "lstm"}


def data_checksum(*arrays):
    """A CRC-32 of the arrays' bytes: equal data give equal checksums."""
    checksum = 0
    for array in arrays:
        checksum = zlib.crc32(np.ascontiguousarray(array).tobytes(), checksum)
    return f"{checksum:08x}"


def settings_differences(saved, current):
    """The settings of `current` that differ from `saved` (a checkpoint's), one phrase each.

    One change continues exactly and is not listed: more epochs when both use a constant
    learning rate (nothing in such a run depends on the number of epochs still to come).
    """
    differences = []
    for key, flag in RUN_SETTINGS.items():
        before, now = saved.get(key, OLDER_CHECKPOINTS.get(key)), current[key]
        if before == now:
            continue
        if (key == "epochs" and saved.get("constant_learning_rate") and current["constant_learning_rate"]
                and now > before):
            continue
        differences.append(f"{flag}: checkpoint {_shown(before)}, now {_shown(now)}")
    return differences


def _shown(value):
    """A setting as the user knows it: None is all reviews, a boolean flag is on or off."""
    if value is None:
        return "all"
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


def check_resumable(checkpoint, settings):
    """Refuse (CommandError) to resume `checkpoint` with settings other than those stored in it."""
    try:
        load_model(checkpoint, compile=False)
        saved = read_metadata(checkpoint)
    except (OSError, ValueError) as error:
        raise CommandError(f"--resume: the checkpoint {checkpoint} cannot be read "
                           f"({str(error).removeprefix('load_model: ')}); delete it to start over") from None
    if not isinstance(saved, dict):
        raise CommandError(f"--resume: the checkpoint {checkpoint} does not record the settings it was made with "
                           f"(another program or an older tinyseq wrote it), so resuming it cannot be checked; "
                           f"delete it to start over")
    differences = settings_differences(saved, settings)
    if differences:
        raise CommandError(f"--resume: the settings differ from the checkpoint's: {'; '.join(differences)}. "
                           f"Resume with the checkpoint's settings, or delete {checkpoint} to start over")


def train_seed_model(output="imdb.h5", epochs=2, batch_size=128, maxlen=500, num_words=5000, path=None,
                     train_samples=None, test_samples=None, seed=0, resume=False, verbose=1,
                     mask_zero=False, bucket_by_length=False, decay_learning_rate=True, cell="lstm"):
    """Train the walkthrough's model end to end, save it to `output` and return an IMDBResult.

    `cell` is the recurrent layer, "lstm", "gru" or "rnn" (see `build_seed_model`).

    `mask_zero` and `bucket_by_length` (batches of similar lengths, see `Sequential.fit`) are
    the exact speed-ups; the walkthrough uses neither. `decay_learning_rate=False` keeps Adam's
    learning rate constant, as the walkthrough does (see `walkthrough_optimizer`).

    The model file holds, in its metadata (`read_metadata`), the run's settings under
    "training" and the word index and id rules that turn text into its input under
    "preprocessing" (`read_preprocessing`), so it reads new text without the dataset.

    A checkpoint of the run is kept at `output + ".backup"` (every epoch, and on Ctrl-C), with
    the run's settings stored in it; it is removed once the model file is written. With
    `resume=True` training continues from the checkpoint to exactly the weights of an
    uninterrupted run. Training stops at the first non-finite loss.

    Raises:
        CommandError: `output` cannot be written; a checkpoint is in the way (or missing, with
            `resume`); the settings differ from the checkpoint's; the data cannot be read; or
            the loss became NaN or infinite (the last good checkpoint is kept).
        KeyboardInterrupt: Ctrl-C; the checkpoint is kept when training had not finished.
    """
    check_cell(cell, "train_seed_model")
    checkpoint = f"{output}.backup"
    problem = unwritable_reason(output)
    if problem:
        raise CommandError(f"--output: {problem}")
    if os.path.exists(checkpoint) and not resume:
        raise CommandError(f"{checkpoint} holds an interrupted run: resume it (--resume) or delete it")
    if resume and not os.path.exists(checkpoint):
        raise CommandError(f"--resume: there is no checkpoint at {checkpoint}")
    random.seed(seed)
    with reading_imdb():
        (x_train, y_train), (x_test, y_test) = prepare_data(num_words, maxlen, path, train_samples, test_samples)
        preprocessing = imdb.text_preprocessing(num_words=num_words, maxlen=maxlen, path=path)
    settings = {"cell": cell, "epochs": epochs, "batch_size": batch_size, "maxlen": maxlen, "num_words": num_words,
                "train_samples": train_samples, "test_samples": test_samples, "seed": seed,
                "mask_zero": mask_zero, "bucket_by_length": bucket_by_length,
                "constant_learning_rate": not decay_learning_rate, "data": data_checksum(x_train, y_train)}
    if resume:
        check_resumable(checkpoint, settings)
    if verbose:
        print(f"{len(x_train)} train sequences, {len(x_test)} test sequences, padded to {x_train.shape[1]}")
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    model = build_seed_model(num_words, maxlen, mask_zero=mask_zero, cell=cell,
                             optimizer=walkthrough_optimizer(steps_per_epoch, epochs, decay_learning_rate))
    if verbose:
        model.summary()
    timer = EpochTimer()
    try:
        # The checkpoint outlives fit: it goes only once the model file is written.
        history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=epochs,
                            batch_size=batch_size, verbose=verbose, bucket_by_length=bucket_by_length,
                            callbacks=[TerminateOnNaN(raise_error=True),
                                       BackupAndRestore(checkpoint, delete_checkpoint=False, metadata=settings),
                                       timer])
    except NonFiniteLossError as error:
        kept = (f"the last good checkpoint is kept at {checkpoint} (--resume repeats the same steps)"
                if os.path.exists(checkpoint) else "no epoch had finished, so there is no checkpoint")
        raise CommandError(f"the loss became {error.loss} in epoch {error.epoch}, batch {error.batch}: training "
                           f"stopped there; {kept}. Another --seed may avoid it") from None
    save_with_preprocessing(model, output, preprocessing, metadata={"training": settings})
    os.remove(checkpoint)
    try:
        loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
        probabilities = predict_texts(model, WALKTHROUGH_SENTENCES, preprocessing=preprocessing)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"interrupted after training; the model is saved at {output}") from None
    return IMDBResult(
        test_loss=loss, test_accuracy=accuracy, epoch_seconds=timer.seconds, history=history.history,
        sentences={text: float(p) for text, p in zip(WALKTHROUGH_SENTENCES, probabilities)},
        parameters=model.count_params(),
        settings={"cell": cell, "epochs": epochs, "batch_size": batch_size, "maxlen": maxlen, "num_words": num_words,
                  "train_samples": len(x_train), "test_samples": len(x_test), "seed": seed, "resumed": resume,
                  "mask_zero": mask_zero, "bucket_by_length": bucket_by_length,
                  "decay_learning_rate": decay_learning_rate})


# ---- the commands ------------------------------------------------------------------------------
def add_imdb_parser(commands):
    """Add the `imdb` command, with its `train`, `predict` and `explain` subcommands, to `commands`."""
    imdb_parser = commands.add_parser("imdb", help="the Keras IMDB sentiment LSTM: train it, or run your own text",
                                      description="The classic Keras IMDB walkthrough: an LSTM that reads movie "
                                                  "reviews and says whether they are positive.")
    actions = imdb_parser.add_subparsers(dest="action", required=True, metavar="{train,predict,explain}",
                                         help="`tinyseq imdb ACTION --help` lists its options")
    add_train_parser(actions)
    add_predict_parser(actions)
    add_explain_parser(actions)
    return imdb_parser


def add_train_parser(actions):
    """Add `imdb train` to `actions` (the subparsers of `imdb`)."""
    train = actions.add_parser(
        "train", help="train the walkthrough's model end to end",
        description="Train Embedding(5000, 32) -> LSTM(100) -> Dense(1, sigmoid) (or GRU(100) or SimpleRNN(100) "
                    "with --cell) on the IMDB reviews, evaluate it on the test reviews and save it, with the word "
                    "index it needs to read new text. Ctrl-C stops after the current batch and keeps a checkpoint "
                    "(OUTPUT.backup); --resume continues from it exactly. Exit codes: 0 done, 2 a mistake in the "
                    "command or data (one line on stderr), 130 interrupted.")
    train.add_argument("--cell", choices=list(CELLS), default="lstm",
                       help="the recurrent layer: lstm = LSTM(100), gru = GRU(100), rnn = SimpleRNN(100); "
                            "Keras's initialisers (default lstm, as the walkthrough)")
    train.add_argument("--epochs", type=positive_int, default=2, metavar="N", help="epochs to train (default 2)")
    train.add_argument("--batch-size", type=positive_int, default=128, metavar="N",
                       help="reviews per gradient step (default 128)")
    train.add_argument("--maxlen", type=positive_int, metavar="N",
                       help=f"pad or truncate every review to N word ids (default {FULL['maxlen']}, "
                            f"{QUICK['maxlen']} with --quick)")
    train.add_argument("--num-words", type=at_least(MIN_NUM_WORDS, " (ids 0 to 3 hold no word)"), default=5000,
                       metavar="N", help="the vocabulary: ids below N, that is the N - 4 most frequent words; rarer "
                                         f"words become the unknown-word id (default 5000, at least {MIN_NUM_WORDS})")
    train.add_argument("--data", type=existing_path, metavar="PATH",
                       help="the aclImdb_v1.tar.gz archive or an aclImdb/ folder (default: $TINYSEQ_DATA, then "
                            "the cache, then a download)")
    train.add_argument("--output", type=writable_file, default="imdb.h5", metavar="FILE",
                       help="where to save the model, in tinyseq's format whatever the suffix (default imdb.h5)")
    train.add_argument("--results", type=writable_file, metavar="FILE",
                       help="also write the measurements as JSON here (default: not written)")
    train.add_argument("--quick", action="store_true",
                       help=f"a small slice for a quick look: {QUICK['train_samples']} train / "
                            f"{QUICK['test_samples']} test reviews, maxlen {QUICK['maxlen']} (default: all reviews)")
    train.add_argument("--resume", action="store_true",
                       help="continue the interrupted run saved at OUTPUT.backup; the other flags must be the "
                            "ones it was started with (default: start afresh)")
    train.add_argument("--seed", type=at_least(0), default=0, metavar="N",
                       help="seeds the initial weights and the shuffling, so a run repeats exactly (default 0)")
    train.add_argument("--mask-zero", action="store_true",
                       help="mask the padding: the LSTM ignores it and runs each review from its first word "
                            "(default: off, as the walkthrough)")
    train.add_argument("--bucket", action="store_true",
                       help="batch reviews of similar length together (seeded): with --mask-zero, fewer steps run; "
                            "other reviews share a batch, so training takes another path (default: off)")
    train.add_argument("--constant-learning-rate", action="store_true",
                       help="keep Adam's learning rate at 0.001 throughout, as the walkthrough does (default: it "
                            "falls linearly to 0 over the last epoch, so that the result depends less on the seed)")
    train.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                       help="0 silent, 1 a progress bar, 2 one line per epoch (default 1)")
    return runs(train, run_train)


def add_predict_parser(actions):
    """Add `imdb predict` to `actions` (the subparsers of `imdb`)."""
    predict = actions.add_parser(
        "predict", help="the sentiment of your own text",
        description="Print the probability that each text is positive, by a model that `tinyseq imdb train` "
                    "saved. The texts come as arguments, from --file (one per line), or from standard input "
                    "(one per line: give `-` as the text, or no text with input piped in).")
    predict.add_argument("model", metavar="MODEL", help="a model saved by `tinyseq imdb train` (e.g. imdb.h5)")
    predict.add_argument("text", nargs="*", metavar="TEXT",
                         help="texts to rate, each one argument (quote it); `-` reads them from standard input")
    predict.add_argument("--file", type=readable_file, metavar="PATH",
                         help="read the texts from this file, one per line (`-`: standard input; default: the TEXT "
                              "arguments, or standard input when it is piped)")
    add_data_argument(predict)
    return runs(predict, run_predict)


def add_data_argument(parser):
    """Add --data to `predict` or `explain`: needed only by models saved without their word index."""
    parser.add_argument("--data", type=existing_path, metavar="PATH",
                        help="only for a model file that does not hold its word index (saved by an older tinyseq or "
                             "with model.save): the aclImdb data it was trained on, to rebuild it (default: "
                             "$TINYSEQ_DATA, then the cache; never a download)")


def add_explain_parser(actions):
    """Add `imdb explain` to `actions` (the subparsers of `imdb`)."""
    explain = actions.add_parser(
        "explain", help="what the model does at each word of a review",
        description="Run a model that `tinyseq imdb train` saved over one review, word by word, and show for each "
                    "word the prediction it would make if the review ended there and the mean activity of its "
                    "gates (LSTM: input, forget, output; GRU: update, reset; simple RNN: the hidden state's mean "
                    "|h|). Words are coloured by that prediction when the output is a terminal (NO_COLOR turns it "
                    "off). Exit codes: 0 done, 2 a mistake in the command, model or text (one line on stderr).")
    explain.add_argument("model", metavar="MODEL", help="a model saved by `tinyseq imdb train` (e.g. imdb.h5)")
    explain.add_argument("text", nargs="?", metavar="TEXT",
                         help="the review (quote it); `-` reads it from standard input (default: standard input "
                              "when it is piped)")
    explain.add_argument("--file", type=readable_file, metavar="PATH",
                         help="read the review from this file, all of it (`-`: standard input; default: the TEXT argument)")
    explain.add_argument("--html", type=writable_file, metavar="PATH",
                         help="also write the figure as a self-contained HTML page here (default: none)")
    explain.add_argument("--svg", type=writable_file, metavar="PATH", help="also write the figure as SVG here (default: none)")
    add_data_argument(explain)
    return runs(explain, run_explain)


def run_train(args):
    """Run `tinyseq imdb train` with parsed arguments; returns the exit status, 0.

    Raises:
        CommandError: see `train_seed_model`.
        KeyboardInterrupt: Ctrl-C, its message saying how to resume when a checkpoint was kept.
    """
    distinct_files(output=args.output, results=args.results, data=args.data)
    sizes = dict(QUICK if args.quick else FULL)
    if args.maxlen is not None:
        sizes["maxlen"] = args.maxlen
    try:
        result = train_seed_model(output=args.output, epochs=args.epochs, batch_size=args.batch_size,
                                  num_words=args.num_words, path=args.data, seed=args.seed, resume=args.resume,
                                  verbose=args.verbose, mask_zero=args.mask_zero, bucket_by_length=args.bucket,
                                  decay_learning_rate=not args.constant_learning_rate, cell=args.cell, **sizes)
    except KeyboardInterrupt as stop:
        message = str(stop) or "interrupted"
        if os.path.exists(f"{args.output}.backup"):
            words = ["tinyseq", *(word for word in args.argv if word != "--resume"), "--resume"]
            message += f"; resume with:\n    {shlex.join(words)}"
        raise KeyboardInterrupt(message) from None
    print(f"\nTest loss {result.test_loss:.4f}, test accuracy {result.test_accuracy:.2%}")
    print("Seconds per epoch: " + ", ".join(f"{s:.1f}" for s in result.epoch_seconds))
    print(f"Saved the model to {args.output}")
    for text, probability in result.sentences.items():
        print(f"{probability:.3f}  {'positive' if probability > 0.5 else 'negative'}  {text!r}")
    if args.results:
        result.save(args.results)
        print(f"Wrote the measurements to {args.results}")
    return 0


def run_predict(args):
    """Run `tinyseq imdb predict` with parsed arguments; returns the exit status, 0.

    Raises:
        CommandError: no text, an unreadable text file, a model file that is missing, not a
            tinyseq model, or not a binary sentiment model, or data that cannot be read.
    """
    texts = read_texts(args.text, args.file)
    model = load_sentiment_model(args.model)
    preprocessing = model_preprocessing(args.model, model, args.data)
    probabilities = predict_texts(model, texts, preprocessing=preprocessing)
    for text, probability in zip(texts, probabilities):
        print(f"{probability:.3f}  {'positive' if probability > 0.5 else 'negative'}  {text!r}")
    return 0


def run_explain(args):
    """Run `tinyseq imdb explain` with parsed arguments; returns the exit status, 0.

    Raises:
        CommandError: no text or two sources of it, unreadable text, a model file that is
            missing or not a sentiment model explain can read, or data that cannot be read.
    """
    distinct_files(html=args.html, svg=args.svg, file=None if args.file == "-" else args.file)
    for flag, path in (("--html", args.html), ("--svg", args.svg)):
        if path and os.path.realpath(path) == os.path.realpath(args.model):
            raise CommandError(f"{flag} names the model file {args.model}, which it would overwrite: give another file")
    if args.file and args.text is not None:
        raise CommandError("give the review either as an argument or with --file, not both")
    (text,) = read_texts([] if args.text is None else [args.text], args.file, whole=True)
    if not tokenize(text):
        raise CommandError(f"no word in the review {text!r}: words are runs of letters and digits")
    model = load_sentiment_model(args.model)
    preprocessing = model_preprocessing(args.model, model, args.data)
    try:
        explanation = explain_review(model, text, preprocessing)
    except (TypeError, ValueError) as error:
        raise CommandError(f"{args.model}: {str(error).removeprefix('explain_review: ')}") from None
    print(explanation_to_ansi(explanation), end="")
    for path, render in ((args.html, explanation_to_html), (args.svg, explanation_to_svg)):
        if path:
            with atomic_write(path, "w") as figure:
                figure.write(render(explanation))
            print(f"Wrote the figure to {path}")
    return 0


def model_preprocessing(path, model, data=None):
    """The TextPreprocessing for the model saved at `path`: the one stored in the file, or for an
    older file, one rebuilt from the IMDB data (`data`, $TINYSEQ_DATA or the cache; no download).

    Raises:
        CommandError: the stored one does not fit the model, or an older file and no data.
    """
    try:
        preprocessing = read_preprocessing(path)
    except ValueError as error:
        raise CommandError(str(error)) from None
    num_words, maxlen = model.layers[0].input_dim, model.input_shape[1]
    if preprocessing is not None:
        if preprocessing.maxlen != maxlen or preprocessing.num_words > num_words:
            raise CommandError(f"{path}: its stored preprocessing (maxlen {preprocessing.maxlen}, num_words "
                               f"{preprocessing.num_words}) does not fit the model (input length {maxlen}, "
                               f"vocabulary {num_words})")
        return preprocessing
    with reading_imdb():
        try:
            return imdb.text_preprocessing(num_words=num_words, maxlen=maxlen, path=data, download=False)
        except FileNotFoundError:
            if data is not None or os.environ.get("TINYSEQ_DATA"):
                raise  # reading_imdb says which path names nothing
            raise CommandError(f"{path} does not hold its word index (it was saved by an older tinyseq or with "
                               f"model.save): give the IMDB data it was trained on with --data PATH or TINYSEQ_DATA "
                               f"to rebuild it, or retrain it with `tinyseq imdb train`") from None


def read_texts(arguments, file=None, whole=False):
    """The texts to rate: `arguments`, or the lines of `file` or of standard input (see `add_predict_parser`);
    with `whole`, all of the file or input is one text (see `add_explain_parser`)."""
    if file and arguments:
        raise CommandError("give the texts either as arguments or with --file, not both")
    if not file:
        if arguments and arguments != ["-"]:
            return arguments
        if not arguments and sys.stdin.isatty():
            raise CommandError("no text: give the review as an argument, with --file PATH, or on standard input"
                               if whole else
                               "no text: give texts as arguments, with --file PATH, or on standard input "
                               "(one per line)")
    name = "standard input" if file in (None, "-") else file
    try:
        # Bytes decoded strictly: in a C locale Python would otherwise let binary input through
        # as text (surrogate escapes) and rate it.
        if name == "standard input":
            raw = sys.stdin.buffer.read()
        else:
            with open(file, "rb") as text_file:
                raw = text_file.read()
        content = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CommandError(f"{name} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    texts = [content] if whole else content.splitlines()
    texts = [text.strip() for text in texts if text.strip()]
    if not texts:
        raise CommandError(f"no text in {name}: it should hold " + ("the review" if whole else "one text per line"))
    return texts


def load_sentiment_model(path):
    """Load the model at `path` for `predict`, or raise a CommandError that says what is wrong with it."""
    try:
        model = load_model(path, compile=False)
    except FileNotFoundError:
        raise CommandError(f"no model at {path}: train one with `tinyseq imdb train --output {path}`") from None
    except OSError as error:
        raise CommandError(f"cannot read the model {path}: {error.strerror}") from None
    except ValueError as error:
        raise CommandError(str(error).removeprefix("load_model: ")) from None
    problem = sentiment_model_problem(model)
    if problem:
        raise CommandError(f"{path} is not a binary sentiment model: {problem}")
    return model
