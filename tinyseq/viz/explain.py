"""Look inside a trained sentiment model word by word: what it would say if the review ended
there, and what its gates do at that word.

The idea is Karpathy, Johnson and Fei-Fei's (2015, "Visualizing and Understanding Recurrent
Networks"): run the network over a text and colour each word by what the network does there.
`explain_review` returns the numbers (for notebooks); `explanation_to_ansi`,
`explanation_to_svg` and `explanation_to_html` draw them.

    >>> explanation = explain_review("imdb.h5", "not good, not bad at all")   # doctest: +SKIP
    >>> explanation.words, explanation.predictions, explanation.gates["forget"]   # doctest: +SKIP

The model must be the IMDB walkthrough's shape: an Embedding, one SimpleRNN, LSTM or GRU layer
that returns its last output, then layers that read that output (Dense, Dropout).
"""

from __future__ import annotations

import html
import os
import sys
from dataclasses import dataclass

import numpy as np

from ..models.loading import load_model
from ..nn.cells import GRUCell, LSTMCell, SimpleRNNCell
from ..nn.core import Embedding
from ..nn.recurrent import RNN
from ..preprocessing.sequence import pad_sequences
from ..preprocessing.text import OOV_TOKEN, START_TOKEN, TextPreprocessing, read_preprocessing, tokenize
from ..tensor import Tensor, no_grad

# The cell's name, and the gates shown for it (the candidate values are no gate: left out).
CELL_NAMES = {LSTMCell: "lstm", GRUCell: "gru", SimpleRNNCell: "rnn"}
SHOWN_GATES = {"lstm": ("input", "forget", "output"), "gru": ("update", "reset"), "rnn": ()}


@dataclass
class ReviewExplanation:
    """What a sentiment model did at each word of one review.

    Attributes:
        cell: the recurrent cell, "lstm", "gru" or "rnn".
        words: the words the model read, in order, the start marker ("<START>") first.
        ids: the id the model read for each word.
        out_of_vocabulary: for each word, True if the model read it as the out-of-vocabulary
            id (a word it does not know, or one too rare for its vocabulary).
        cut: the words the model did not read because the review is longer than its input
            (`maxlen`): the first ones when the truncating rule is "pre", else the last ones.
        predictions: (len(words),) the prediction the model would make if the review ended
            at each word (see `explain_review` for how padding is treated).
        gates: the mean activation over the units of each gate at each word, (len(words),)
            each: LSTM "input", "forget", "output"; GRU "update", "reset"; none for a simple
            RNN.
        hidden: (len(words),) the mean absolute value of the hidden state after each word.
        probability: the model's prediction for the whole review, as `model.predict` gives it.
    """

    cell: str
    words: list
    ids: list
    out_of_vocabulary: list
    cut: list
    predictions: np.ndarray
    gates: dict
    hidden: np.ndarray
    probability: float


def explain_review(model, text_or_ids, preprocessing=None):
    """Run a sentiment model over one review, step by step, and record what it does at each word.

    The model reads the review as `model.predict` does: padded (or cut) to its input length
    by the preprocessing's rule ("pre" by default: the padding comes first, and a long review
    loses its first words). The outputs come from the model's own recurrent layer, and the
    gates from its cell's equations (`cell.step`) run alongside, so nothing differs from the
    trained network.

    The prediction at a word is the model's output layers applied to the recurrent layer's
    output after that word: the network's verdict had the review stopped there, with the
    padding it read before the first word left as it was for the whole review. So the value
    at the last word equals `model.predict` on the whole review (with "post" padding and no
    mask, the model reads the padding after the last word too: `probability` is then the
    value after the padding). A model with `Embedding(mask_zero=True)` skips the padding,
    so for it the value at a word is exactly `model.predict` on the review cut after that word.

    Args:
        model: a Sequential model (Embedding, then a SimpleRNN, LSTM or GRU layer, then the
            layers that read its last output), or the path of a saved one.
        text_or_ids: the review as a string, or as its ids (`load_data`'s lists, start marker
            included; padding zeros at either end are dropped).
        preprocessing: the `TextPreprocessing` that turns text into ids (needed for a string);
            default: the one stored in the model file when `model` is a path. Words of `ids`
            are shown as the words it names (as "#id" without it).

    Returns:
        A `ReviewExplanation`.

    Raises:
        TypeError, ValueError: for a model not of that shape, a review with no word, text
            without a preprocessing, or a preprocessing whose maxlen is not the model's.
    """
    if isinstance(model, (str, os.PathLike)):
        if preprocessing is None:
            preprocessing = read_preprocessing(model)
        model = load_model(model, compile=False)
    embedding, recurrent, head, cell_name = _parts(model)
    maxlen = model.input_shape[1]
    if preprocessing is not None:
        if not isinstance(preprocessing, TextPreprocessing):
            raise TypeError(f"explain_review: preprocessing must be a TextPreprocessing, got "
                            f"{type(preprocessing).__name__}")
        if preprocessing.maxlen != maxlen:
            raise ValueError(f"explain_review: the preprocessing pads to maxlen={preprocessing.maxlen}, but the model "
                             f"reads {maxlen} ids")
    words, ids, unknown = _review(text_or_ids, preprocessing)
    padding, truncating = (preprocessing.padding, preprocessing.truncating) if preprocessing else ("pre", "pre")
    row = pad_sequences([ids], maxlen=maxlen, padding=padding, truncating=truncating)
    cut = []
    if len(ids) > maxlen:  # the words pad_sequences cut
        kept = slice(len(ids) - maxlen, None) if truncating == "pre" else slice(0, maxlen)
        cut = words[:len(ids) - maxlen] if truncating == "pre" else words[maxlen:]
        words, ids, unknown = words[kept], ids[kept], unknown[kept]
    first_word = maxlen - len(ids) if padding == "pre" else 0

    last_output, outputs, gates = _run(embedding, recurrent, row, cell_name)
    outputs = outputs[first_word:first_word + len(ids)]
    with no_grad():
        predictions = np.array([_apply(head, output) for output in outputs])
        probability = _apply(head, last_output)
    shown = SHOWN_GATES[cell_name]
    return ReviewExplanation(
        cell=cell_name, words=words, ids=ids, out_of_vocabulary=unknown, cut=cut, predictions=predictions,
        gates={name: np.array([step[name] for step in gates[first_word:first_word + len(ids)]]) for name in shown},
        hidden=np.array([float(np.abs(output).mean()) for output in outputs]), probability=probability)


def _parts(model):
    """The model's Embedding, recurrent layer, the layers after it, and the cell's name."""
    layers = getattr(model, "layers", None)
    if not isinstance(layers, list):
        raise TypeError(f"explain_review: model must be a Sequential model or the path of one, got "
                        f"{type(model).__name__}")
    if len(layers) < 2 or not isinstance(layers[0], Embedding) or not isinstance(layers[1], RNN):
        found = " and ".join(type(layer).__name__ for layer in layers[:2]) or "no layer"
        raise ValueError(f"explain_review: the model must start with an Embedding and a recurrent layer, not {found}")
    embedding, recurrent, *head = layers
    cell_name = CELL_NAMES.get(type(recurrent.cell))
    if cell_name is None:
        raise ValueError(f"explain_review: the recurrent layer's cell must be a SimpleRNNCell, LSTMCell or GRUCell, "
                         f"got {type(recurrent.cell).__name__}")
    if recurrent.return_sequences or recurrent.return_state or recurrent.go_backwards:
        raise ValueError(f"explain_review: {recurrent.name} must read the review forwards and return its last "
                         f"output only (return_sequences, return_state and go_backwards off)")
    if model.input_shape is None or len(model.input_shape) != 2:
        raise ValueError(f"explain_review: the model must take rows of word ids (batch, maxlen); its input shape "
                         f"is {model.input_shape}")
    return embedding, recurrent, head, cell_name


def _review(text_or_ids, preprocessing):
    """The review's words, ids and out-of-vocabulary flags, unpadded and uncut."""
    if isinstance(text_or_ids, str):
        if preprocessing is None:
            raise ValueError("explain_review: text needs a preprocessing to become ids: pass preprocessing=..., "
                             "or the path of a model file that stores one (saved by `tinyseq imdb train`)")
        words = [START_TOKEN, *tokenize(text_or_ids)]
        ids = preprocessing.encode(text_or_ids)
    else:
        ids = np.asarray(text_or_ids)
        if ids.ndim != 1 or not (np.issubdtype(ids.dtype, np.integer) or ids.size == 0):
            raise ValueError(f"explain_review: ids must be one review, a 1-D sequence of ints, got an array of shape "
                             f"{ids.shape} and dtype {ids.dtype}")
        real = np.flatnonzero(ids)
        ids = ids[real[0]:real[-1] + 1].tolist() if real.size else []
        if 0 in ids:
            raise ValueError("explain_review: ids hold padding (0) between words; give one review, padded at its "
                             "ends at most")
        words = [preprocessing.word(i) if preprocessing else {1: START_TOKEN, 2: OOV_TOKEN}.get(i, f"#{i}")
                 for i in ids]
    if not ids:
        raise ValueError("explain_review: the review has no word to explain")
    oov_char = preprocessing.oov_char if preprocessing else 2
    return words, ids, [i == oov_char for i in ids]


def _run(embedding, recurrent, row, cell_name):
    """Run the recurrent layer over the row. Returns its last output (as `predict` computes
    it), its output after every step, (timesteps, 1, units), and each step's gate means.

    The outputs come from the model's own layer (its implementation, its masking), so the
    numbers are the ones `predict` computes; the gates come from the cell's equations run
    step by step alongside (`cell.step(..., gates=...)`), carried over masked steps as the
    states are.
    """
    cell = recurrent.cell
    with no_grad():
        inputs = embedding(row)
        mask = embedding.compute_mask(row)
        last_output = recurrent(inputs, mask=mask)
        every_step = RNN(cell, return_sequences=True, implementation=recurrent.implementation, dtype=recurrent.dtype)
        outputs = every_step(inputs, mask=mask).data.transpose(1, 0, 2)
        states, step_gates, gates = cell.get_initial_state(1), {}, []
        for t in range(row.shape[1]):
            if mask is None or row[0, t] != 0:
                step_gates = {}
                _, states = cell.step(cell.project_inputs(inputs[:, t]), states, gates=step_gates)
            gates.append({name: float(step_gates[name].data.mean()) if name in step_gates else float("nan")
                          for name in SHOWN_GATES[cell_name]})
    return last_output, outputs, gates


def _apply(head, output):
    """The model's prediction from the recurrent layer's output (1, units): the later layers, in
    inference."""
    output = output if isinstance(output, Tensor) else Tensor(output)
    for layer in head:
        output = layer(output, training=False)
    return float(np.asarray(output.data).reshape(-1)[0])


# ---- drawing -----------------------------------------------------------------------------------
# Predictions run from negative (0, red) through undecided (0.5, white) to positive (1, blue).
NEGATIVE_RGB, UNDECIDED_RGB, POSITIVE_RGB = (202, 52, 52), (255, 255, 255), (40, 100, 190)
# The terminal's 256-colour palette along the same scale, from 0 to 1 in tenths.
ANSI_SCALE = (160, 203, 210, 217, 224, 231, 189, 153, 117, 75, 33)
GATE_RGB = (35, 45, 60)  # a gate's or |h|'s cell is drawn from white (0) to this (1)


def prediction_rgb(prediction):
    """The (r, g, b) colour of a prediction: red at 0, white at 0.5, blue at 1."""
    share = min(max(float(prediction), 0.0), 1.0) * 2
    start, end = (NEGATIVE_RGB, UNDECIDED_RGB) if share <= 1 else (UNDECIDED_RGB, POSITIVE_RGB)
    share = share if share <= 1 else share - 1
    return tuple(round(a + (b - a) * share) for a, b in zip(start, end))


def _hex(rgb):
    return "#" + "".join(f"{channel:02x}" for channel in rgb)


def _summary(explanation):
    """One line: the verdict on the whole review, the cell, and how many words it read (and cut)."""
    verdict = "positive" if explanation.probability > 0.5 else "negative"
    cut = f", {len(explanation.cut)} cut by maxlen" if explanation.cut else ""
    return f"{explanation.probability:.3f}  {verdict}  ({explanation.cell}, {len(explanation.words)} words read{cut})"


def use_color(stream=None):
    """Whether to colour terminal output: `stream` (default stdout) is a terminal and NO_COLOR
    is not set (https://no-color.org)."""
    stream = sys.stdout if stream is None else stream
    return not os.environ.get("NO_COLOR") and hasattr(stream, "isatty") and stream.isatty()


def explanation_to_ansi(explanation, color=None):
    """The explanation as terminal text: the verdict, the review with each word coloured by the
    prediction there (256-colour backgrounds), then one line per word with the numbers.

    Args:
        explanation: a `ReviewExplanation`.
        color: True for colour codes, False for plain text; None: `use_color()`.
    """
    color = use_color() if color is None else color
    names = list(explanation.gates)
    lines = [_summary(explanation)]
    if color:
        painted = []
        for word, prediction in zip(explanation.words, explanation.predictions):
            shade = ANSI_SCALE[round(min(max(prediction, 0.0), 1.0) * 10)]
            painted.append(f"\x1b[38;5;16;48;5;{shade}m{word}\x1b[0m")
        lines += [" ".join(painted), ""]
    width = max(len(word) for word in explanation.words + ["word"]) + 2
    lines.append(f"{'word':<{width}}{'if it ended here':>16}" + "".join(f"{name:>8}" for name in names)
                 + f"{'mean |h|':>10}")
    for i, word in enumerate(explanation.words):
        marked = word + ("*" if explanation.out_of_vocabulary[i] and word != OOV_TOKEN else "")
        lines.append(f"{marked:<{width}}{explanation.predictions[i]:>16.3f}"
                     + "".join(f"{explanation.gates[name][i]:>8.3f}" for name in names)
                     + f"{explanation.hidden[i]:>10.3f}")
    if any(explanation.out_of_vocabulary):
        lines.append("* not in the model's vocabulary: it read the out-of-vocabulary id")
    return "\n".join(lines) + "\n"


# The SVG layout, in pixels: words in lines, under each word a small row per gate and one for
# the hidden state.
CHAR_WIDTH, FONT_SIZE, WORD_HEIGHT, GATE_HEIGHT, GAP = 7.8, 13, 20, 7, 2
LABEL_WIDTH, LINE_WIDTH, MARGIN = 56, 760, 10


def explanation_to_svg(explanation):
    """The explanation as a self-contained SVG figure (no script): the review's words in lines,
    each on the colour of the prediction there, with small rows beneath for each gate's mean
    activity and the hidden state's mean |h| (white 0, dark 1); hovering a word shows its
    numbers."""
    names = list(explanation.gates)
    rows = {**explanation.gates, "mean |h|": explanation.hidden}
    band = WORD_HEIGHT + len(rows) * (GATE_HEIGHT + GAP) + 8
    placed, x, line = [], LABEL_WIDTH, 0
    for i, word in enumerate(explanation.words):
        width = len(word) * CHAR_WIDTH + 8
        if x + width > LABEL_WIDTH + LINE_WIDTH and x > LABEL_WIDTH:
            x, line = LABEL_WIDTH, line + 1
        placed.append((i, x, line, width))
        x += width + 3
    header = 62
    height = header + (line + 1) * band + MARGIN
    total_width = LABEL_WIDTH + LINE_WIDTH + 2 * MARGIN
    legend = [("each word on the colour of the prediction had the review ended there: red 0 (negative), "
               "white 0.5, blue 1 (positive)")]
    legend.append(("under it, a row per gate (its mean activity at that word) and one for the hidden state's mean |h|: "
                   if names else "under it, the hidden state's mean |h| at that word: ") + "white 0 to dark 1")
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_width}" height="{height}" '
              f'viewBox="0 0 {total_width} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" '
              f'font-size="{FONT_SIZE}">'),
             f'<rect width="{total_width}" height="{height}" fill="white"/>',
             f'<text x="{MARGIN}" y="18" font-size="14">{html.escape(_summary(explanation))}</text>']
    parts += [f'<text x="{MARGIN}" y="{36 + 14 * k}" font-size="11" fill="#555">{text}</text>'
              for k, text in enumerate(legend)]
    for row in range(line + 1):
        top = header + row * band
        for k, name in enumerate(rows):
            y = top + WORD_HEIGHT + GAP + k * (GATE_HEIGHT + GAP) + GATE_HEIGHT - 1
            parts.append(f'<text x="{MARGIN}" y="{y:.0f}" font-size="8" fill="#555">{html.escape(name)}</text>')
    for i, x, row, width in placed:
        top = header + row * band
        prediction = explanation.predictions[i]
        numbers = [f"{explanation.words[i]}: {prediction:.3f} if it ended here"]
        numbers += [f"{name} gate {explanation.gates[name][i]:.3f}" for name in names]
        numbers.append(f"mean |h| {explanation.hidden[i]:.3f}")
        if explanation.out_of_vocabulary[i]:
            numbers.append("out of the vocabulary")
        parts.append(f'<g><title>{html.escape("; ".join(numbers))}</title>')
        parts.append(f'<rect x="{x:.1f}" y="{top}" width="{width:.1f}" height="{WORD_HEIGHT}" rx="3" '
                     f'fill="{_hex(prediction_rgb(prediction))}" stroke="#ccc" stroke-width="0.5"/>')
        style = ' font-style="italic" fill="#666"' if explanation.out_of_vocabulary[i] else ""
        parts.append(f'<text x="{x + 4:.1f}" y="{top + 14}"{style}>{html.escape(explanation.words[i])}</text>')
        for k, values in enumerate(rows.values()):
            value = min(max(float(values[i]), 0.0), 1.0)
            shade = _hex(tuple(round(255 + (c - 255) * value) for c in GATE_RGB))
            y = top + WORD_HEIGHT + GAP + k * (GATE_HEIGHT + GAP)
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{GATE_HEIGHT}" fill="{shade}"/>')
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def explanation_to_html(explanation, title="What the model read"):
    """The SVG figure of `explanation_to_svg` in a self-contained HTML page (no script)."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f'</head>\n<body>\n<h1 style="font: 16px sans-serif">{html.escape(title)}</h1>\n'
            f'{explanation_to_svg(explanation)}</body>\n</html>\n')
