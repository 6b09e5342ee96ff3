"""Tests for tinyseq.viz.explain (a sentiment model word by word) and `tinyseq imdb explain`:
values against model.predict and a hand run of the cell's equations, the renderers, and the
commands with no dataset at hand; then the walkthrough's model with each of the three cells."""

import io
import os
import sys
import tarfile
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from tinyseq import random
from tinyseq.apps import imdb as imdb_app
from tinyseq.models.saving import read_metadata
from tinyseq.models.sequential import Sequential
from tinyseq.nn.core import Dense, Embedding
from tinyseq.nn.recurrent import GRU, LSTM, SimpleRNN
from tinyseq.preprocessing.text import TextPreprocessing
from tinyseq.viz import explain
from tinyseq.viz.explain import explain_review, explanation_to_ansi, explanation_to_html, explanation_to_svg

WORDS = ["good", "bad", "not", "movie", "the", "at", "all"]
# ids: good 4, bad 5, not 6, movie 7, the 8; "at" (9) and "all" (10) are beyond num_words=9
PREPROCESSING = TextPreprocessing({word: rank for rank, word in enumerate(WORDS[:5], start=1)}, num_words=9, maxlen=12)
LAYERS = {"lstm": LSTM, "gru": GRU, "rnn": SimpleRNN}
REVIEW = "The movie was not good, not bad at all."


def small_model(cell, units=4, maxlen=12, mask_zero=False, seed=1, scale=3.0):
    """Embedding(9, 3) -> cell(units) -> Dense(1, sigmoid), weights scaled up so that the
    predictions and gates move from word to word."""
    random.seed(seed)
    model = Sequential([Embedding(9, 3, input_length=maxlen, mask_zero=mask_zero), LAYERS[cell](units),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    for parameter in model.parameters():
        parameter.data *= scale
    return model


# ---- the numbers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mask_zero", [False, True])
@pytest.mark.parametrize("cell", list(LAYERS))
def test_the_value_at_the_last_word_is_what_predict_gives(cell, mask_zero):
    model = small_model(cell, mask_zero=mask_zero)
    explanation = explain_review(model, REVIEW, PREPROCESSING)
    predicted = model.predict(PREPROCESSING.transform([REVIEW]), verbose=0)[0, 0]
    assert explanation.predictions[-1] == predicted and explanation.probability == predicted
    assert explanation.cell == cell and len(explanation.predictions) == len(explanation.words) == 10
    assert np.ptp(explanation.predictions) > 0.01  # the values move: the test would see a wrong step


@pytest.mark.parametrize("cell", list(LAYERS))
def test_with_a_mask_each_value_is_predict_on_the_review_cut_after_that_word(cell):
    model = small_model(cell, mask_zero=True)
    explanation = explain_review(model, REVIEW, PREPROCESSING)
    ids = PREPROCESSING.encode(REVIEW)
    cut_after_each_word = PREPROCESSING.pad([ids[:end] for end in range(1, len(ids) + 1)])
    expected = [model.predict(row[None], verbose=0)[0, 0] for row in cut_after_each_word]
    assert explanation.predictions.tolist() == expected


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def hand_run(model, ids):
    """The cell's equations in float64 numpy over the padded row: the gate means and mean |h|
    after each step, as lists of dicts."""
    embeddings = model.layers[0].embeddings.data.astype(np.float64)
    cell = model.layers[1].cell
    kernel, recurrent, bias = (w.data.astype(np.float64) for w in (cell.kernel, cell.recurrent_kernel, cell.bias))
    units = cell.units
    h, c = np.zeros(units), np.zeros(units)
    steps = []
    for token in PREPROCESSING.pad([ids])[0]:
        x = embeddings[token]
        if isinstance(cell, type(LSTM(1).cell)):
            z = x @ kernel + h @ recurrent + bias
            i, f, g, o = sigmoid(z[:units]), sigmoid(z[units:2 * units]), np.tanh(z[2 * units:3 * units]), \
                sigmoid(z[3 * units:])
            c = f * c + i * g
            h = o * np.tanh(c)
            gates = {"input": i.mean(), "forget": f.mean(), "output": o.mean()}
        elif isinstance(cell, type(GRU(1).cell)):
            x_part, h_part = x @ kernel + bias[0], h @ recurrent + bias[1]
            update = sigmoid(x_part[:units] + h_part[:units])
            reset = sigmoid(x_part[units:2 * units] + h_part[units:2 * units])
            candidate = np.tanh(x_part[2 * units:] + reset * h_part[2 * units:])
            h = update * h + (1 - update) * candidate
            gates = {"update": update.mean(), "reset": reset.mean()}
        else:
            h = np.tanh(x @ kernel + h @ recurrent + bias)
            gates = {}
        steps.append({**gates, "hidden": np.abs(h).mean()})
    return steps


@pytest.mark.parametrize("cell, gates", [("lstm", ["input", "forget", "output"]), ("gru", ["update", "reset"]),
                                         ("rnn", [])])
def test_gates_and_hidden_state_equal_a_hand_run_of_the_cell_equations_on_two_units(cell, gates):
    model = small_model(cell, units=2)
    explanation = explain_review(model, REVIEW, PREPROCESSING)
    ids = PREPROCESSING.encode(REVIEW)
    steps = hand_run(model, ids)[-len(ids):]  # the words come after the padding
    assert list(explanation.gates) == gates
    for name in gates:
        np.testing.assert_allclose(explanation.gates[name], [step[name] for step in steps], rtol=1e-5)
    np.testing.assert_allclose(explanation.hidden, [step["hidden"] for step in steps], rtol=1e-5)
    assert all(np.ptp(values) > 0.01 for values in [explanation.hidden, *explanation.gates.values()])


def test_words_out_of_the_vocabulary_and_the_words_cut_by_maxlen():
    explanation = explain_review(small_model("lstm"), REVIEW, PREPROCESSING)
    assert explanation.words == ["<START>", "the", "movie", "was", "not", "good", "not", "bad", "at", "all"]
    assert explanation.ids == [1, 8, 7, 2, 6, 4, 6, 5, 2, 2]
    assert explanation.out_of_vocabulary == [False, False, False, True, False, False, False, False, True, True]
    assert explanation.cut == []

    short = TextPreprocessing(PREPROCESSING.word_index, num_words=9, maxlen=4)
    model = small_model("gru", maxlen=4)
    cut_first = explain_review(model, "good movie not bad at all", short)
    assert (cut_first.words, cut_first.cut) == (["not", "bad", "at", "all"], ["<START>", "good", "movie"])
    assert cut_first.predictions[-1] == model.predict(short.transform(["good movie not bad at all"]), verbose=0)[0, 0]
    keep_first = TextPreprocessing(PREPROCESSING.word_index, num_words=9, maxlen=4, truncating="post")
    cut_last = explain_review(model, "good movie not bad at all", keep_first)
    assert (cut_last.words, cut_last.cut) == (["<START>", "good", "movie", "not"], ["bad", "at", "all"])


def test_ids_work_as_load_data_gives_them_or_padded_with_words_from_the_preprocessing():
    model = small_model("rnn")
    by_text = explain_review(model, REVIEW, PREPROCESSING)
    by_ids = explain_review(model, [1, 8, 7, 2, 6, 4, 6, 5, 2, 2], PREPROCESSING)
    padded = explain_review(model, PREPROCESSING.transform([REVIEW])[0], PREPROCESSING)
    for explanation in (by_ids, padded):
        assert explanation.predictions.tolist() == by_text.predictions.tolist()
        assert explanation.words == ["<START>", "the", "movie", "<OOV>", "not", "good", "not", "bad", "<OOV>", "<OOV>"]
    assert explain_review(model, [1, 8, 2]).words == ["<START>", "#8", "<OOV>"]


def test_a_model_file_brings_its_preprocessing(tmp_path):
    from tinyseq.preprocessing.text import save_with_preprocessing
    model = small_model("lstm")
    save_with_preprocessing(model, tmp_path / "model.h5", PREPROCESSING)
    from_file = explain_review(str(tmp_path / "model.h5"), REVIEW)
    assert from_file.predictions.tolist() == explain_review(model, REVIEW, PREPROCESSING).predictions.tolist()


@pytest.mark.parametrize("call, message", [
    (lambda: explain_review(small_model("lstm"), REVIEW),
     "explain_review: text needs a preprocessing to become ids: pass preprocessing=..., or the path of a model file "
     "that stores one (saved by `tinyseq imdb train`)"),
    (lambda: explain_review(small_model("lstm", maxlen=5), REVIEW, PREPROCESSING),
     "explain_review: the preprocessing pads to maxlen=12, but the model reads 5 ids"),
    (lambda: explain_review(Sequential([Dense(1)]), REVIEW, PREPROCESSING),
     "explain_review: the model must start with an Embedding and a recurrent layer, not Dense"),
    (lambda: explain_review(PREPROCESSING, REVIEW),
     "explain_review: model must be a Sequential model or the path of one, got TextPreprocessing"),
    (lambda: explain_review(Sequential([Embedding(9, 2, input_length=3), LSTM(2, return_sequences=True)]), [1, 4]),
     "explain_review: lstm must read the review forwards and return its last output only (return_sequences, "
     "return_state and go_backwards off)"),
    (lambda: explain_review(small_model("gru"), [1, 0, 4]),
     "explain_review: ids hold padding (0) between words; give one review, padded at its ends at most"),
    (lambda: explain_review(small_model("gru"), [0, 0]), "explain_review: the review has no word to explain"),
    (lambda: explain_review(small_model("gru"), [[1, 4]]),
     "explain_review: ids must be one review, a 1-D sequence of ints, got an array of shape (1, 2) and dtype int64"),
])
def test_mistakes_are_named(call, message):
    with pytest.raises((TypeError, ValueError)) as error:
        call()
    assert str(error.value) == message


# ---- the drawings --------------------------------------------------------------------------------
def test_prediction_colours_run_from_red_through_white_to_blue():
    assert explain.prediction_rgb(0) == explain.NEGATIVE_RGB
    assert explain.prediction_rgb(0.5) == (255, 255, 255)
    assert explain.prediction_rgb(1) == explain.POSITIVE_RGB
    assert explain.prediction_rgb(0.75) == tuple(round((255 + c) / 2) for c in explain.POSITIVE_RGB)


def test_terminal_output_is_coloured_only_when_asked_and_lists_every_word():
    explanation = explain_review(small_model("lstm"), REVIEW, PREPROCESSING)
    plain = explanation_to_ansi(explanation, color=False)
    coloured = explanation_to_ansi(explanation, color=True)
    assert "\x1b[" not in plain
    lines = plain.splitlines()
    assert lines[0] == (f"{explanation.probability:.3f}  {'positive' if explanation.probability > 0.5 else 'negative'}"
                        f"  (lstm, 10 words read)")
    assert lines[1].split() == ["word", "if", "it", "ended", "here", "input", "forget", "output", "mean", "|h|"]
    assert lines[5].split() == ["was*", f"{explanation.predictions[3]:.3f}",
                                *(f"{explanation.gates[name][3]:.3f}" for name in ("input", "forget", "output")),
                                f"{explanation.hidden[3]:.3f}"]
    assert lines[-1] == "* not in the model's vocabulary: it read the out-of-vocabulary id"
    shade = explain.ANSI_SCALE[round(explanation.predictions[5] * 10)]
    assert f"\x1b[38;5;16;48;5;{shade}mgood\x1b[0m" in coloured
    assert coloured.count("\x1b[0m") == 10


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_colour_follows_the_terminal_and_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert explain.use_color(FakeTerminal()) and not explain.use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not explain.use_color(FakeTerminal())


def test_the_svg_has_a_box_per_word_on_its_prediction_colour_and_rows_for_the_gates_and_h():
    explanation = explain_review(small_model("gru"), REVIEW, PREPROCESSING)
    svg = ElementTree.fromstring(explanation_to_svg(explanation))
    namespace = "{http://www.w3.org/2000/svg}"
    words = svg.findall(f"{namespace}g")
    assert len(words) == 10 and not svg.findall(f".//{namespace}script")
    for group, word, prediction in zip(words, explanation.words, explanation.predictions):
        box, label, *gate_rows = [element for element in group if element.tag != f"{namespace}title"]
        assert label.text == word and box.get("fill") == explain._hex(explain.prediction_rgb(prediction))
        assert len(gate_rows) == 3  # update, reset, mean |h|
        assert group.find(f"{namespace}title").text.startswith(f"{word}: {prediction:.3f} if it ended here")
    page = explanation_to_html(explanation)
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<script" not in page


# ---- `tinyseq imdb explain` and `predict` with no dataset ----------------------------------------
POSITIVE, NEGATIVE = ["great", "wonderful", "loved"], ["awful", "boring", "dull"]
NEUTRAL = ["the", "movie", "film", "plot", "was", "and"]


def write_archive(path, per_group=24):
    """A tiny aclImdb look-alike (not the official name, so its counts are not checked)."""
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as archive:
        for split in ("train", "test"):
            for label, words in (("neg", NEGATIVE), ("pos", POSITIVE)):
                for review in range(per_group):
                    data = " ".join(rng.choice(NEUTRAL + words * 2, size=rng.integers(4, 10))).encode()
                    member = tarfile.TarInfo(f"aclImdb/{split}/{label}/{review}_{2 if label == 'neg' else 9}.txt")
                    member.size = len(data)
                    archive.addfile(member, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A GRU trained by train_seed_model on the tiny archive: (model file, archive, the walkthrough
    sentences' probabilities as predict_texts gave them with the data)."""
    folder = tmp_path_factory.mktemp("trained")
    archive = write_archive(folder / "reviews.tar.gz")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TINYSEQ_CACHE", str(folder / "cache"))
        patch.delenv("TINYSEQ_DATA", raising=False)
        result = imdb_app.train_seed_model(output=folder / "gru.h5", epochs=1, batch_size=16, maxlen=10,
                                           num_words=12, path=archive, verbose=0, cell="gru")
    return folder / "gru.h5", archive, result


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """No dataset anywhere: TINYSEQ_DATA unset, an empty cache, and any download fails the test."""
    monkeypatch.delenv("TINYSEQ_DATA", raising=False)
    (tmp_path / "empty cache").mkdir()
    monkeypatch.setenv("TINYSEQ_CACHE", str(tmp_path / "empty cache"))

    def no_download(target):
        raise AssertionError(f"a download was attempted to {target}")
    monkeypatch.setattr("tinyseq.datasets.imdb._download", no_download)
    return tmp_path


def run(capsys, *argv):
    """Run `tinyseq argv...` in this process; returns (exit status, stdout, stderr)."""
    from tinyseq.apps.cli import main  # the command line, as `tinyseq` runs it
    status = main([str(word) for word in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def test_train_stores_the_cell_settings_and_preprocessing_in_the_model_file(trained):
    path, _, result = trained
    metadata = read_metadata(path)
    assert result.settings["cell"] == metadata["training"]["cell"] == "gru"
    stored = metadata["preprocessing"]
    assert {key: stored[key] for key in stored if key != "word_index"} == {
        "num_words": 12, "maxlen": 10, "index_from": 3, "start_char": 1, "oov_char": 2, "padding": "pre",
        "truncating": "pre"}
    assert sorted(stored["word_index"].values()) == list(range(1, 9))  # ids 4..11, below num_words


def test_predict_and_explain_work_with_no_data_no_cache_and_no_network(trained, no_data, capsys, monkeypatch):
    path, _, result = trained
    sentences = list(result.sentences)
    status, out, err = run(capsys, "imdb", "predict", path, *sentences)
    assert (status, err) == (0, "")
    assert [float(line.split()[0]) for line in out.splitlines()] == [round(p, 3) for p in result.sentences.values()]

    status, out, err = run(capsys, "imdb", "explain", path, "the film was great", "--html", no_data / "r.html",
                           "--svg", no_data / "r.svg")
    assert (status, err) == (0, "")
    explanation = explain_review(str(path), "the film was great")
    assert out == (explanation_to_ansi(explanation, color=False) + f"Wrote the figure to {no_data / 'r.html'}\n"
                   f"Wrote the figure to {no_data / 'r.svg'}\n")
    assert (no_data / "r.svg").read_text() == explanation_to_svg(explanation)
    assert (no_data / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert os.listdir(no_data / "empty cache") == []

    (no_data / "review.txt").write_text("the film\nwas great\n", encoding="utf-8")  # one review, lines joined
    assert run(capsys, "imdb", "explain", path, "--file", no_data / "review.txt")[1] == \
        explanation_to_ansi(explain_review(str(path), "the film\nwas great"), color=False)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"the film was great"), encoding="utf-8"))
    assert run(capsys, "imdb", "explain", path, "-")[1] == explanation_to_ansi(explanation, color=False)


def test_a_model_saved_without_its_word_index_says_what_it_needs(trained, no_data, capsys):
    path, archive, result = trained
    old = no_data / "old.h5"
    from tinyseq.models.loading import load_model
    load_model(path).save(old)  # model.save stores no preprocessing, as files saved before it
    for action in ("predict", "explain"):
        status, out, err = run(capsys, "imdb", action, old, "the film was great")
        assert (status, out) == (2, "")
        assert err == (f"tinyseq imdb {action}: {old} does not hold its word index (it was saved by an older tinyseq "
                       f"or with model.save): give the IMDB data it was trained on with --data PATH or TINYSEQ_DATA "
                       f"to rebuild it, or retrain it with `tinyseq imdb train`\n")
    status, out, err = run(capsys, "imdb", "predict", old, *result.sentences, "--data", archive)
    assert status == 0
    assert [float(line.split()[0]) for line in out.splitlines()] == [round(p, 3) for p in result.sentences.values()]


def test_explain_mistakes_are_one_line_and_exit_2(trained, no_data, capsys, monkeypatch):
    path, _, _ = trained
    monkeypatch.setattr(sys, "stdin", FakeTerminal())
    (no_data / "review.txt").write_text("great", encoding="utf-8")
    cases = [
        ([path], "no text: give the review as an argument, with --file PATH, or on standard input"),
        ([path, "great", "--file", no_data / "review.txt"],
         "give the review either as an argument or with --file, not both"),
        ([path, "great", "--html", path], f"--html names the model file {path}, which it would overwrite: give "
                                          f"another file"),
        ([path, "...!"], "no word in the review '...!': words are runs of letters and digits"),
        ([no_data / "none.h5", "great"], f"no model at {no_data / 'none.h5'}: train one with `tinyseq imdb train "
                                         f"--output {no_data / 'none.h5'}`"),
        ([path, "great", "--svg", no_data / "a.svg", "--html", no_data / "a.svg"],
         f"--html and --svg both name {no_data / 'a.svg'}; one would overwrite the other: give them different files"),
    ]
    for arguments, message in cases:
        status, out, err = run(capsys, "imdb", "explain", *arguments)
        assert (status, out, err) == (2, "", f"tinyseq imdb explain: {message}\n")


# ---- the three cells in the walkthrough's model --------------------------------------------------
@pytest.mark.parametrize("cell, layer, parameters", [("lstm", LSTM, 213_301), ("gru", GRU, 200_301),
                                                     ("rnn", SimpleRNN, 173_401)])
def test_the_seed_model_takes_each_cell_with_keras_initialisers(cell, layer, parameters):
    model = imdb_app.build_seed_model(cell=cell)
    assert type(model.layers[1]) is layer and model.layers[1].units == 100
    assert model.count_params() == parameters  # 160,000 + the cell's + 101, as Keras counts them
    config = model.layers[1].get_config()
    assert (config["kernel_initializer"], config["recurrent_initializer"], config["bias_initializer"]) == (
        "glorot_uniform", "orthogonal", "zeros")
    with pytest.raises(ValueError, match=r"^build_seed_model: cell must be one of 'lstm', 'gru', 'rnn', got 'LSTM'$"):
        imdb_app.build_seed_model(cell="LSTM")


def test_resuming_a_checkpoint_of_another_cell_is_refused_and_older_checkpoints_were_lstm(tmp_path):
    from tinyseq.models.saving import save_model
    settings = {"cell": "lstm", "epochs": 2, "batch_size": 32, "maxlen": 12, "num_words": 30, "train_samples": None,
                "test_samples": None, "seed": 0, "mask_zero": False, "bucket_by_length": False,
                "constant_learning_rate": False, "data": "0badc0de"}
    model = imdb_app.build_seed_model(num_words=30, maxlen=12, units=2)
    checkpoint = tmp_path / "imdb.h5.backup"
    save_model(model, checkpoint, metadata=settings)
    imdb_app.check_resumable(checkpoint, settings)  # the same settings: resumable
    with pytest.raises(imdb_app.CommandError) as error:
        imdb_app.check_resumable(checkpoint, {**settings, "cell": "gru"})
    assert str(error.value) == (f"--resume: the settings differ from the checkpoint's: --cell: checkpoint lstm, now "
                                f"gru. Resume with the checkpoint's settings, or delete {checkpoint} to start over")
    older = {key: value for key, value in settings.items() if key != "cell"}
    save_model(model, checkpoint, metadata=older)  # written before --cell existed: an LSTM run
    imdb_app.check_resumable(checkpoint, settings)
    with pytest.raises(imdb_app.CommandError, match="--cell: checkpoint lstm, now rnn"):
        imdb_app.check_resumable(checkpoint, {**settings, "cell": "rnn"})


def test_train_names_the_cells_it_takes(capsys):
    status, out, err = run(capsys, "imdb", "train", "--cell", "lstm2")
    assert (status, out) == (2, "") and err.count("\n") == 1
    assert err.startswith("tinyseq imdb train: argument --cell: invalid choice: 'lstm2' (choose from ")
    assert all(name in err for name in ("lstm", "gru", "rnn"))
