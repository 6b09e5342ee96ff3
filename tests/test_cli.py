"""The `tinyseq` command: every user mistake is one line and exit code 2, never a traceback;
training keeps what it earned (Ctrl-C, a non-finite loss, resuming with other settings); predict
reads text from arguments, a file or standard input.

The IMDB commands run on a tiny synthetic archive in aclImdb layout, so each test takes seconds.
"""

import argparse
import io
import json
import os
import shlex
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tinyseq.apps import demo, imdb as imdb_app
from tinyseq.apps.arguments import CommandError
from tinyseq.apps.cli import build_parser, main
from tinyseq.datasets import imdb
from tinyseq.models import Sequential, load_model, read_metadata
from tinyseq.nn.core import Dense, Embedding
from tinyseq.nn.recurrent import LSTM

ROOT = Path(__file__).resolve().parents[1]
POSITIVE = ["great", "wonderful", "loved", "moving", "superb"]
NEGATIVE = ["awful", "boring", "hated", "dull", "waste"]
NEUTRAL = ["the", "movie", "film", "plot", "actors", "scene", "story", "was", "and", "it"]


def write_archive(path, reviews_per_group=40, seed=0):
    """An aclImdb_v1.tar.gz look-alike: `reviews_per_group` short reviews in each of train/test neg/pos."""
    rng = np.random.default_rng(seed)
    with tarfile.open(path, "w:gz") as archive:
        for split in ("train", "test"):
            for label, words in (("neg", NEGATIVE), ("pos", POSITIVE)):
                for review_id in range(reviews_per_group):
                    text = " ".join(rng.choice(NEUTRAL + words * 2, size=rng.integers(5, 15)))
                    data = text.encode()
                    member = tarfile.TarInfo(f"aclImdb/{split}/{label}/{review_id}_{3 if label == 'neg' else 8}.txt")
                    member.size = len(data)
                    archive.addfile(member, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def shared_cache(cache, monkeypatch):
    monkeypatch.setenv("TINYSEQ_CACHE", str(cache))
    monkeypatch.delenv("TINYSEQ_DATA", raising=False)


@pytest.fixture(scope="module")
def archive(tmp_path_factory, cache):
    """The tiny archive, parsed once into the module's cache."""
    path = write_archive(tmp_path_factory.mktemp("data") / "reviews.tar.gz")  # not the official name: no count check
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TINYSEQ_CACHE", str(cache))
        imdb.load_data(path)
    return path


def run(capsys, *argv):
    """Run `tinyseq argv...` in this process; returns (exit status, stdout, stderr)."""
    status = main([str(word) for word in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def train_words(archive, output, *extra):
    """A training command line small enough for a test: 80 reviews, 12 ids each, batches of 32."""
    return ["imdb", "train", "--data", archive, "--maxlen", 12, "--num-words", 30, "--batch-size", 32,
            "--epochs", 2, "--verbose", 0, "--output", output, *extra]


def piped(data):
    """Standard input fed from a pipe with these bytes."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


def weights(path):
    return [p.data for p in load_model(path, compile=False).parameters()]


# ---- bad values: refused while parsing, before any work -----------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["imdb", "train", "--epochs", "0"], "tinyseq imdb train: argument --epochs: must be at least 1, got 0"),
    (["imdb", "train", "--batch-size", "-1"], "tinyseq imdb train: argument --batch-size: must be at least 1, got -1"),
    (["imdb", "train", "--maxlen", "0"], "tinyseq imdb train: argument --maxlen: must be at least 1, got 0"),
    (["imdb", "train", "--num-words", "2"],
     "tinyseq imdb train: argument --num-words: must be at least 5 (ids 0 to 3 hold no word), got 2"),
    (["imdb", "train", "--epochs", "two"], "tinyseq imdb train: argument --epochs: expected a whole number, got 'two'"),
    (["demo", "--steps", "0"], "tinyseq demo: argument --steps: must be at least 1, got 0"),
    (["graph", "lstm", "--steps", "0", "-o", "x.svg"], "tinyseq graph: argument --steps: must be at least 1, got 0"),
    (["graph", "lstm", "--units", "0", "-o", "x.svg"], "tinyseq graph: argument --units: must be at least 1, got 0"),
    (["graph", "lstm", "-o", "x.bmp"],
     "tinyseq graph: argument -o/--output: cannot tell the format from 'x.bmp'; use a name ending in .svg, .png, "
     ".pdf or .dot"),
    (["vanishing", "norms", "--jobs", "0"], "tinyseq vanishing norms: argument --jobs: must be at least 1, got 0"),
    (["vanishing", "gap", "--seed", "-1"], "tinyseq vanishing gap: argument --seed: must be at least 0, got -1"),
    (["vanishing", "norms", "--plot", "norms.txt"],
     "tinyseq vanishing norms: argument --plot: cannot tell the format from 'norms.txt'; use a name ending in "
     ".png, .svg, .pdf"),
])
def test_a_bad_value_is_one_line_naming_the_flag_and_exit_code_2(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == ""
    assert err == f"{message} (see `{message.split(':')[0]} --help`)\n"


def test_a_reversed_heatmap_range_is_refused_before_drawing(capsys, tmp_path):
    status, _, err = run(capsys, "graph", "rnn", "--grad-scale", "0", "-2", "-o", tmp_path / "rnn.dot")
    assert (status, err) == (2, "tinyseq graph: --grad-scale: LOW must be below HIGH, got 0 -2\n")
    assert not (tmp_path / "rnn.dot").exists()


def test_a_plot_without_matplotlib_is_refused_before_the_experiment_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if matplotlib were not installed
    status, out, err = run(capsys, "vanishing", "norms", "--plot", tmp_path / "norms.png")
    assert (status, out) == (2, "")
    assert err == "tinyseq vanishing norms: plotting needs matplotlib: pip install tinyseq[plots]\n"


# ---- files: missing, damaged, unwritable -------------------------------------------------------
def read_only_folder(tmp_path):
    """A folder that does not accept new files, even for root (who ignores permission bits)."""
    if os.geteuid() == 0:
        return Path("/sys")
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o555)
    return folder


@pytest.mark.parametrize("flag", ["--output", "--results"])
def test_an_output_that_cannot_be_written_is_refused_before_training(capsys, tmp_path, archive, flag):
    folder_message = f"{tmp_path} is a folder; give a file name, e.g. {tmp_path / 'out'}"
    missing = tmp_path / "missing" / "model.h5"
    read_only = read_only_folder(tmp_path) / "model.h5"
    for path, reason in [(tmp_path, folder_message),
                         (missing, f"cannot write {missing}: the folder {missing.parent} does not exist"),
                         (read_only, f"cannot write {read_only}: the folder {read_only.parent} does not accept "
                                     f"new files (Permission denied)")]:
        status, out, err = run(capsys, "imdb", "train", "--data", archive, flag, path)
        assert status == 2 and out == ""
        assert err == f"tinyseq imdb train: argument {flag}: {reason} (see `tinyseq imdb train --help`)\n"


@pytest.mark.parametrize("flag", ["--output", "--results"])
def test_an_empty_output_name_or_one_ending_in_a_slash_is_refused_while_parsing(capsys, tmp_path, archive, flag):
    for path, reason in [("", "the file name is empty"),
                         (f"{tmp_path}/new/", f"{tmp_path}/new/ names a folder (it ends in /); give a file name")]:
        status, out, err = run(capsys, "imdb", "train", "--data", archive, flag, path)
        assert (status, out) == (2, "")
        assert err == f"tinyseq imdb train: argument {flag}: {reason} (see `tinyseq imdb train --help`)\n"
    assert os.listdir(tmp_path) == []


def test_two_flags_naming_one_file_are_refused_before_anything_is_overwritten(capsys, tmp_path, archive):
    data = tmp_path / "reviews.tar.gz"
    data.write_bytes(Path(archive).read_bytes())
    for extra, flags in [(["--results", tmp_path / "m.h5"], "--output and --results"),
                         (["--results", data], "--results and --data")]:
        words = train_words(data, tmp_path / "m.h5", *extra)
        status, out, err = run(capsys, *words)
        assert (status, out) == (2, "")
        assert err == (f"tinyseq imdb train: {flags} both name {extra[1]}; one would overwrite the other: "
                       f"give them different files\n")
    status, _, err = run(capsys, *train_words(data, tmp_path / "." / "reviews.tar.gz"))
    assert status == 2 and err.startswith("tinyseq imdb train: --output and --data both name ")
    assert sorted(os.listdir(tmp_path)) == ["reviews.tar.gz"] and data.read_bytes() == Path(archive).read_bytes()


def test_train_seed_model_checks_its_output_before_reading_any_data(tmp_path):
    with pytest.raises(CommandError, match=f"--output: {tmp_path} is a folder; give a file name"):
        imdb_app.train_seed_model(output=tmp_path, path=tmp_path / "no data here")


def test_graph_of_more_steps_than_can_be_laid_out_is_refused_before_drawing(capsys, tmp_path):
    status, out, err = run(capsys, "graph", "lstm", "--steps", "100000", "-o", tmp_path / "g.svg")
    assert (status, out) == (2, "")
    assert err == ("tinyseq graph: --steps 100000: a graph of every op can show at most 200 steps (Graphviz would "
                   "take hours to lay it out); --compact draws one box per step\n")
    assert os.listdir(tmp_path) == []


def test_graph_output_in_a_missing_folder_is_refused(capsys, tmp_path):
    status, _, err = run(capsys, "graph", "lstm", "-o", tmp_path / "no" / "lstm.svg")
    assert status == 2 and f"the folder {tmp_path / 'no'} does not exist" in err


def test_missing_or_damaged_data_is_one_line(capsys, tmp_path, archive):
    status, _, err = run(capsys, "imdb", "train", "--data", tmp_path / "nothing.tar.gz")
    assert status == 2 and err.startswith(f"tinyseq imdb train: argument --data: no such file or folder: "
                                          f"{tmp_path / 'nothing.tar.gz'}")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[:len(archive.read_bytes()) // 2])
    status, _, err = run(capsys, *train_words(truncated, tmp_path / "m.h5"))
    *progress, error = err.splitlines()  # the loader says first what it is parsing
    assert status == 2 and error.startswith(f"tinyseq imdb train: The archive {truncated} is truncated")
    assert not any(line.startswith("tinyseq") for line in progress)
    status, _, err = run(capsys, *train_words(tmp_path, tmp_path / "m.h5"))  # a folder with no reviews
    assert status == 2 and err.count("\n") == 1 and "is not in aclImdb layout" in err
    assert not (tmp_path / "m.h5").exists() and not (tmp_path / "m.h5.backup").exists()


# ---- errors that are not the user's, and --debug -----------------------------------------------
def test_debug_shows_the_traceback_and_an_unexpected_error_says_it_is_a_bug(capsys, tmp_path, monkeypatch):
    with pytest.raises(CommandError, match="no model at"):
        main(["--debug", "imdb", "predict", str(tmp_path / "none.h5"), "fine"])

    def broken(**settings):
        raise ZeroDivisionError("division by zero")
    monkeypatch.setattr(demo, "train_xor", broken)
    status, _, err = run(capsys, "demo")
    assert status == 1
    assert err == ("tinyseq demo: unexpected error ZeroDivisionError: division by zero (a bug in tinyseq: please "
                   "report it with the traceback that `tinyseq --debug ...` shows)\n")


def test_the_installed_command_prints_one_line_and_no_traceback(tmp_path):
    """The real process: exit code and stderr as a shell sees them."""
    done = subprocess.run([sys.executable, "-m", "tinyseq.apps.cli", "imdb", "predict", str(tmp_path / "none.h5"),
                           "a film"], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (f"tinyseq imdb predict: no model at {tmp_path / 'none.h5'}: train one with "
                           f"`tinyseq imdb train --output {tmp_path / 'none.h5'}`\n")


# ---- imdb train: what a run keeps --------------------------------------------------------------
def test_train_then_predict_from_arguments_a_file_and_standard_input(capsys, tmp_path, archive, monkeypatch):
    model_path = tmp_path / "imdb.h5"
    status, out, _ = run(capsys, *train_words(archive, model_path, "--results", tmp_path / "result.json"))
    assert status == 0 and f"Saved the model to {model_path}" in out
    assert model_path.exists() and not Path(f"{model_path}.backup").exists()
    settings = json.loads((tmp_path / "result.json").read_text())["settings"]
    assert (settings["train_samples"], settings["maxlen"], settings["num_words"]) == (80, 12, 30)

    texts = ["a wonderful moving film", "boring and dull"]
    status, by_arguments, _ = run(capsys, "imdb", "predict", model_path, *texts, "--data", archive)
    assert status == 0 and [line.split("  ")[2] for line in by_arguments.splitlines()] == [repr(t) for t in texts]
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n\n", encoding="utf-8")
    status, by_file, _ = run(capsys, "imdb", "predict", model_path, "--file", tmp_path / "texts.txt",
                             "--data", archive)
    assert status == 0 and by_file == by_arguments
    monkeypatch.setattr(sys, "stdin", piped("\n".join(texts).encode()))  # not a terminal: read without "-"
    status, by_stdin, _ = run(capsys, "imdb", "predict", model_path, "--data", archive)
    assert status == 0 and by_stdin == by_arguments
    monkeypatch.setattr(sys, "stdin", piped("\n".join(texts).encode()))
    status, by_dash, _ = run(capsys, "imdb", "predict", model_path, "-", "--data", archive)
    assert status == 0 and by_dash == by_arguments
    status, after_an_option, _ = run(capsys, "imdb", "predict", model_path, "--data", archive, *texts)
    assert status == 0 and after_an_option == by_arguments


def test_predict_without_text_or_with_two_sources_says_how_to_give_it(capsys, tmp_path, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setattr(sys, "stdin", Terminal())
    status, _, err = run(capsys, "imdb", "predict", tmp_path / "imdb.h5")
    assert (status, err) == (2, "tinyseq imdb predict: no text: give texts as arguments, with --file PATH, or on "
                                "standard input (one per line)\n")
    (tmp_path / "empty.txt").write_text("\n  \n", encoding="utf-8")
    status, _, err = run(capsys, "imdb", "predict", tmp_path / "imdb.h5", "--file", tmp_path / "empty.txt")
    assert (status, err) == (2, f"tinyseq imdb predict: no text in {tmp_path / 'empty.txt'}: it should hold one "
                                f"text per line\n")
    status, _, err = run(capsys, "imdb", "predict", tmp_path / "imdb.h5", "good", "--file", tmp_path / "empty.txt")
    assert (status, err) == (2, "tinyseq imdb predict: give the texts either as arguments or with --file, not both\n")
    status, _, err = run(capsys, "imdb", "predict", tmp_path / "imdb.h5", "--file", tmp_path / "empty.txt", "good")
    assert (status, err) == (2, "tinyseq imdb predict: give the texts either as arguments or with --file, not both\n")
    status, _, err = run(capsys, "imdb", "predict", tmp_path / "imdb.h5", "--file", tmp_path / "none.txt")
    assert status == 2 and f"argument --file: no such file: {tmp_path / 'none.txt'}" in err
    status, _, err = run(capsys, "imdb", "predict", tmp_path / "imdb.h5", "good", "--colour")
    assert (status, err) == (2, "tinyseq imdb predict: unrecognized arguments: --colour "
                                "(see `tinyseq imdb predict --help`)\n")


@pytest.mark.parametrize("source", ["stdin", "file"])
def test_predict_refuses_binary_input_instead_of_rating_it(capsys, tmp_path, monkeypatch, source):
    binary = b"\x1f\x8b\x08\x00 a gzip header, not text\n"
    (tmp_path / "input.gz").write_bytes(binary)
    monkeypatch.setattr(sys, "stdin", piped(binary))
    where = "standard input" if source == "stdin" else str(tmp_path / "input.gz")
    status, out, err = run(capsys, "imdb", "predict", tmp_path / "imdb.h5",
                           *(["--file", tmp_path / "input.gz"] if source == "file" else []))
    assert (status, out) == (2, "")
    assert err == f"tinyseq imdb predict: {where} is not UTF-8 text (invalid start byte at byte 1)\n"


def test_predict_refuses_files_that_are_not_binary_sentiment_models(capsys, tmp_path):
    (tmp_path / "notes.h5").write_text("not a model", encoding="utf-8")
    status, _, err = run(capsys, "imdb", "predict", tmp_path / "notes.h5", "good")
    assert status == 2 and err.startswith(f"tinyseq imdb predict: {tmp_path / 'notes.h5'} is not a tinyseq model "
                                          f"file (not a zip archive")
    status, _, err = run(capsys, "imdb", "predict", tmp_path, "good")
    assert status == 2 and err.startswith("tinyseq imdb predict: ") and err.count("\n") == 1

    softmax = Sequential([Embedding(30, 4, input_length=12), LSTM(3), Dense(2, activation="softmax")])
    softmax.save(tmp_path / "two_classes.h5")
    status, _, err = run(capsys, "imdb", "predict", tmp_path / "two_classes.h5", "good")
    assert (status, err) == (2, f"tinyseq imdb predict: {tmp_path / 'two_classes.h5'} is not a binary sentiment "
                                f"model: its output is (2,) with activation softmax, not one sigmoid unit (the "
                                f"probability that a review is positive)\n")
    tiny_vocabulary = Sequential([Embedding(4, 4, input_length=12), LSTM(3), Dense(1, activation="sigmoid")])
    tiny_vocabulary.save(tmp_path / "no_words.h5")
    status, _, err = run(capsys, "imdb", "predict", tmp_path / "no_words.h5", "good")
    assert status == 2 and "its Embedding has input_dim 4, so it knows no word" in err
    dense = Sequential([Dense(1, activation="sigmoid")])
    dense.build((None, 12))
    dense.save(tmp_path / "dense.h5")
    status, _, err = run(capsys, "imdb", "predict", tmp_path / "dense.h5", "good")
    assert status == 2 and "its first layer is Dense, not an Embedding of word ids" in err


def test_ctrl_c_right_after_the_last_epoch_keeps_the_checkpoint_and_resume_finishes_exactly(
        capsys, tmp_path, archive, monkeypatch):
    fit = Sequential.fit

    def fit_then_ctrl_c(self, *args, **kwargs):
        fit(self, *args, **kwargs)
        raise KeyboardInterrupt  # Ctrl-C the moment the last epoch ended (outside fit, Python raises this)

    output = tmp_path / "imdb.h5"
    with monkeypatch.context() as patch:
        patch.setattr(Sequential, "fit", fit_then_ctrl_c)
        status, _, err = run(capsys, *train_words(archive, output))
    assert status == 130 and not output.exists() and Path(f"{output}.backup").exists()
    message, command = err.splitlines()
    assert message == "tinyseq imdb train: interrupted; resume with:"
    words = shlex.split(command)
    assert words[0] == "tinyseq" and words[-1] == "--resume"

    assert run(capsys, *words[1:])[0] == 0
    assert not Path(f"{output}.backup").exists()
    assert run(capsys, *train_words(archive, tmp_path / "uninterrupted.h5"))[0] == 0
    for resumed, uninterrupted in zip(weights(output), weights(tmp_path / "uninterrupted.h5")):
        np.testing.assert_array_equal(resumed, uninterrupted)


def test_ctrl_c_while_evaluating_finds_the_model_already_saved(capsys, tmp_path, archive, monkeypatch):
    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while evaluating (outside fit, Python raises this)
    monkeypatch.setattr(imdb_app, "predict_texts", ctrl_c)
    output = tmp_path / "imdb.h5"
    status, _, err = run(capsys, *train_words(archive, output))
    assert (status, err) == (130, f"tinyseq imdb train: interrupted after training; the model is saved at {output}\n")
    assert output.exists() and not Path(f"{output}.backup").exists()


def test_sigterm_stops_training_as_ctrl_c_does_keeping_a_checkpoint_that_holds_the_settings(
        capsys, tmp_path, archive, monkeypatch):
    def terminate_in_epoch_one(self, batch, logs=None):
        if self.model.training_state.epoch == 0 and batch == 0:  # Keras counts batches from 0
            signal.raise_signal(signal.SIGTERM)  # as `kill PID` or a scheduler's time limit sends
    monkeypatch.setattr(imdb_app.EpochTimer, "on_train_batch_end", terminate_in_epoch_one, raising=False)
    output = tmp_path / "imdb.h5"
    status, _, err = run(capsys, *train_words(archive, output))
    assert status == 130 and err.startswith("tinyseq imdb train: training interrupted in epoch 1, after batch 1 of 3; "
                                            "resume with:\n")
    assert sorted(os.listdir(tmp_path)) == ["imdb.h5.backup"]  # the settings are inside, not beside it
    settings = read_metadata(f"{output}.backup")
    assert (settings["epochs"], settings["batch_size"], settings["maxlen"], settings["num_words"]) == (2, 32, 12, 30)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the command put the default back


def test_resume_with_other_settings_is_refused_with_each_difference(capsys, tmp_path, archive, monkeypatch):
    def interrupt_after_epoch_one(self, epoch, logs=None):
        if epoch == 0:
            signal.raise_signal(signal.SIGINT)  # fit stops once the epoch has ended and saves a checkpoint
    monkeypatch.setattr(imdb_app.EpochTimer, "on_epoch_end", interrupt_after_epoch_one)
    output = tmp_path / "imdb.h5"
    status, _, err = run(capsys, *train_words(archive, output))
    assert status == 130 and err.startswith("tinyseq imdb train: training interrupted after epoch 1 of 2")
    other_data = write_archive(tmp_path / "other.tar.gz", seed=1)
    imdb.load_data(other_data)  # parsed now, so that the command's only output is its answer
    capsys.readouterr()

    status, _, err = run(capsys, *train_words(other_data, output, "--resume", "--batch-size", 16, "--seed", 1,
                                              "--mask-zero", "--epochs", 3))
    assert status == 2 and err.count("\n") == 1
    differences = err.split("the settings differ from the checkpoint's: ")[1].split(". Resume with")[0]
    assert differences.split("; ") == [
        "--epochs: checkpoint 2, now 3", "--batch-size: checkpoint 32, now 16", "--seed: checkpoint 0, now 1",
        "--mask-zero: checkpoint off, now on", differences.split("; ")[-1]]
    assert differences.split("; ")[-1].startswith("--data (the training reviews' checksum): checkpoint ")
    assert err.endswith(f"Resume with the checkpoint's settings, or delete {output}.backup to start over\n")
    assert Path(f"{output}.backup").exists() and not output.exists()

    status, _, err = run(capsys, *train_words(archive, output))
    assert (status, err) == (2, f"tinyseq imdb train: {output}.backup holds an interrupted run: resume it "
                                f"(--resume) or delete it\n")
    status, _, err = run(capsys, *train_words(archive, tmp_path / "other.h5", "--resume"))
    assert (status, err) == (2, f"tinyseq imdb train: --resume: there is no checkpoint at {tmp_path}/other.h5.backup\n")


def test_more_epochs_at_a_constant_learning_rate_resume_exactly(capsys, tmp_path, archive, monkeypatch):
    fit = Sequential.fit

    def fit_then_ctrl_c(self, *args, **kwargs):
        fit(self, *args, **kwargs)
        raise KeyboardInterrupt  # Ctrl-C after the last epoch

    output = tmp_path / "imdb.h5"
    with monkeypatch.context() as patch:
        patch.setattr(Sequential, "fit", fit_then_ctrl_c)
        assert run(capsys, *train_words(archive, output, "--epochs", 1, "--constant-learning-rate"))[0] == 130
    status, _, err = run(capsys, *train_words(archive, output, "--epochs", 3, "--resume"))  # the rate would fall
    assert status == 2 and ("--epochs: checkpoint 1, now 3; --constant-learning-rate: checkpoint on, now off"
                            in err)
    assert run(capsys, *train_words(archive, output, "--epochs", 3, "--constant-learning-rate", "--resume"))[0] == 0
    assert run(capsys, *train_words(archive, tmp_path / "straight.h5", "--epochs", 3,
                                    "--constant-learning-rate"))[0] == 0
    for resumed, uninterrupted in zip(weights(output), weights(tmp_path / "straight.h5")):
        np.testing.assert_array_equal(resumed, uninterrupted)


def test_a_non_finite_loss_stops_training_naming_epoch_and_batch_and_keeps_the_last_good_checkpoint(
        capsys, tmp_path, archive, monkeypatch):
    train_step = Sequential.train_step
    steps = []

    def diverging_step(self, x, y, sample_weight=None):
        values = train_step(self, x, y, sample_weight)
        steps.append(1)
        return {**values, "loss": float("nan")} if len(steps) == 5 else values  # epoch 2, batch 2
    monkeypatch.setattr(Sequential, "train_step", diverging_step)
    output = tmp_path / "imdb.h5"
    status, _, err = run(capsys, *train_words(archive, output))
    assert (status, err) == (2, f"tinyseq imdb train: the loss became nan in epoch 2, batch 2: training stopped "
                                f"there; the last good checkpoint is kept at {output}.backup (--resume repeats the "
                                f"same steps). Another --seed may avoid it\n")
    assert Path(f"{output}.backup").exists() and not output.exists()


def test_walkthrough_schedule_and_flags_reach_the_saved_model(capsys, tmp_path, archive):
    output = tmp_path / "masked.h5"
    assert run(capsys, *train_words(archive, output, "--mask-zero", "--bucket", "--epochs", 1))[0] == 0
    masked = load_model(output)
    assert masked.layers[0].mask_zero and masked.layers[0].input_dim == 30 and masked.input_shape == (None, 12)
    # 80 training reviews in batches of 32: 3 steps, over which (the last epoch) the rate falls to 0
    schedule = masked.optimizer.get_config()["learning_rate"]
    assert schedule == {"class_name": "LinearDecay", "config": {"initial_learning_rate": 1e-3, "decay_steps": 3,
                                                                "end_learning_rate": 0.0, "hold_steps": 0}}
    assert masked.optimizer.iterations == 3 and masked.optimizer.learning_rate == 0.0
    assert run(capsys, *train_words(archive, tmp_path / "constant.h5", "--constant-learning-rate"))[0] == 0
    assert load_model(tmp_path / "constant.h5").optimizer.get_config()["learning_rate"] == 1e-3


# ---- help ---------------------------------------------------------------------------------------
def parsers(parser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                yield from parsers(subparser)


def test_every_flag_of_every_command_says_what_it_does_and_its_default():
    undocumented, no_default = [], []
    for parser in parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            name = f"{parser.prog} {'/'.join(action.option_strings) or action.dest}"
            if not action.help:
                undocumented.append(name)
            elif action.option_strings and "default" not in action.help and not action.required:
                no_default.append(name)
    assert undocumented == [] and no_default == []


def test_help_exits_0_and_the_applications_live_in_apps(capsys):
    assert main(["imdb", "train", "--help"]) == 0
    assert "--num-words N" in capsys.readouterr().out
    for old in ("tinyseq/cli.py", "tinyseq/demo.py", "tinyseq/viz/cli.py", "tinyseq/experiments/imdb_sentiment.py",
                "tinyseq/experiments/vanishing_cli.py"):
        assert not (ROOT / old).exists(), old
