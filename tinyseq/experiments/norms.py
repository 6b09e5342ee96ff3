"""Gradient norm against distance: vanishing and exploding gradients measured, next to theory.

The measurement, the same for every cell: one sequence (batch 1) of T Gaussian input vectors,
a cell from `tinyseq.nn`, float64 (so that 100 steps of rounding stay far below the 1e-6 the
linear case is checked to), and the loss L = <v, s_T> for a fixed random unit vector v, where s
is the state studied (h for the RNNs, c for the LSTM). Then dL/ds_T = v has norm 1, and
||dL/ds_{T-k}|| is how much of a unit gradient survives k steps back. Every s_t keeps its
gradient with `retain_grad()`; one `backward()` fills them all.

Conventions are the library's (row vectors, h_t = phi(x_t W + h_{t-1} U + b)), so one step back is

    J_t = dh_t/dh_{t-1} = diag(phi'(a_t)) U^T,        dL/dh_{t-1} = dL/dh_t . J_t.

(a) Linear RNN, U = rho Q with Q orthogonal: ||g U^T|| = rho ||g|| for every row vector g, so
    log10 ||dL/dh_{T-k}|| = k log10 rho exactly, and the fitted slope per step is log10 rho.

(b) tanh RNN, U = rho Q. Pascanu, Mikolov & Bengio (2013), eq. 7: every one-step Jacobian has
    ||J_t|| <= ||U^T|| ||diag(tanh')|| <= gamma lambda_1, with lambda_1 = ||U||_2 the largest
    singular value (= rho here) and gamma = 1 bounding tanh'. A product of k such Jacobians is
    then bounded by (gamma lambda_1)^k, and (their eq. 8) so is the gradient:
    ||dL/dh_{T-k}|| <= (gamma lambda_1)^k ||dL/dh_T||. All three are checked at every step,
    against the exact Jacobian products computed here in numpy alongside the autograd gradients.
    The slope: with Q orthogonal, ||g_{t-1}|| = rho ||g_t * tanh'_t|| exactly (* element-wise).
    If g_t points in no particular direction, ||g_t * tanh'_t|| / ||g_t|| is the root mean
    square of tanh'_t over the units, which predicts the slope
        log10 rho + mean over t of log10 rms(tanh'_t).
    The simpler prediction log10 rho + mean log10 tanh' (a geometric mean) is smaller by
    Jensen's inequality: it is close only when tanh' varies little across units (small inputs),
    so both are reported, at two input scales.

(c) LSTM. With h_{t-1} held fixed, c_t = f_t * c_{t-1} + i_t * g_t gives dc_t/dc_{t-1} =
    diag(f_t): this "cell path" is what Hochreiter & Schmidhuber's truncated gradient follows,
    and autograd measures it exactly when h_{t-1} enters the next step detached. With small
    input and recurrent weights f_t ~ sigma(b_f), so the slope is ~ log10 sigma(b_f); a forget
    gate pinned at exactly 1 gives a path whose norm never changes. The full gradient (all
    paths, h_{t-1} not detached) is reported beside it.

(d) SimpleRNN, LSTM and GRU cells as the library (Keras) initialises them, side by side: the
    hidden state's ||dL/dh_{T-k}|| (for the LSTM too, so all three measure the same thing), at
    two input scales. The GRU's h_t = z_t * h_{t-1} + (1 - z_t) * candidate has a straight path
    whose one-step Jacobian is diag(z_t), the part the LSTM's forget gate plays in (c); with
    every bias 0 the update gate starts near sigma(0) = 1/2, so that path alone would shrink by
    mean log10 z ~ -0.3 per step. The measured slope is less steep: the path through the
    candidate adds to it. There is no exact prediction here, so the plot draws no theory line
    for the GRU; the table gives mean log10 z beside the measured slope.
    `cells=` adds the others of `cells.CELL_NAMES`: the IRNN (ReLU, identity recurrent kernel:
    where a unit is active, one step back multiplies its gradient by exactly 1), the chrono LSTM
    (T_max = T), or a learner's own cell class.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np

from .. import checks, ops, random
from ..nn import init
from ..nn.cells import LSTMCell, SimpleRNNCell
from ..tensor import Tensor
from .cells import cell_name, check_cells, initialise_for_dependency, make_cell
from .common import ExperimentResult, colour_of, fitted_slope, format_table, label_of, new_figure, save_figure

RHOS = (0.5, 0.8, 0.9, 1.0, 1.2, 3.0)
FORGET_BIASES = (0.0, 1.0, 2.0, 3.0, 5.0)
INPUT_SCALES = (1.0, 0.1)
GAMMA_TANH = 1.0  # sup |tanh'| = 1 (Pascanu et al.'s gamma; 1/4 for the logistic sigmoid)
# (a)-(c) check the theory over at most this many steps: rho^T must fit in float64 (3^646 does
# not), and a product of 250 Jacobians already pins every slope to a few digits.
THEORY_MAX_STEPS = 250
# sigmoid(40) = 1 / (1 + 4e-18), which float64 rounds to exactly 1.0: a forget gate pinned open.
PINNED_FORGET_LOGIT = 40.0
# The cells compared in (d) by default, each with the library's default initialisation.
DEFAULT_CELLS = ("rnn", "lstm", "gru")


@dataclass
class RNNNorms:
    """Gradient norms through a simple RNN with recurrent kernel rho * Q, against distance.

    Attributes:
        activation: "linear" or "tanh".
        rho: the scale of the orthogonal recurrent kernel.
        input_scale: the standard deviation of the Gaussian inputs.
        largest_singular_value: lambda_1 = ||U||_2, measured (equals rho by construction).
        log10_norms: log10 ||dL/dh_{T-k}|| for k = 0..T, from autograd.
        slope: least-squares slope of `log10_norms` per step.
        predicted_slope: log10 rho + mean log10 phi' (the geometric-mean prediction).
        predicted_slope_rms: log10 rho + mean over steps of log10 rms(phi') (see the module).
        mean_derivative: mean phi' over the steps and units.
        step_bound_ratio: max over t of ||J_t|| / (gamma lambda_1): eq. 7 holds if <= 1.
        product_bound_ratio: max over k >= 1 of ||dh_T/dh_{T-k}|| / (gamma lambda_1)^k (<= 1).
        gradient_bound_ratio: max over k >= 1 of ||dL/dh_{T-k}|| / ((gamma lambda_1)^k ||dL/dh_T||) (<= 1).
        autograd_error: max over k of the relative difference between the autograd gradient and
            v . dh_T/dh_{T-k} from the numpy Jacobian product.
    """
    activation: str
    rho: float
    input_scale: float
    largest_singular_value: float
    log10_norms: list
    slope: float
    predicted_slope: float
    predicted_slope_rms: float
    mean_derivative: float
    step_bound_ratio: float
    product_bound_ratio: float
    gradient_bound_ratio: float
    autograd_error: float

    def obeys_bounds(self, tolerance=1e-9):
        """Whether eq. 7 (one step), the product bound and eq. 8 hold at every step."""
        return max(self.step_bound_ratio, self.product_bound_ratio, self.gradient_bound_ratio) <= 1 + tolerance


@dataclass
class LSTMNorms:
    """Gradient norms along an LSTM's cell state, against distance.

    Attributes:
        forget_bias: b_f, or None for the forget gate pinned at exactly 1.
        predicted_slope: log10 sigma(b_f) (0 when pinned).
        mean_log10_forget: the mean of log10 f_t over the steps and units, measured.
        cell_path_log10_norms: log10 ||dL/dc_{T-k}||, k = 0..T, with h_{t-1} detached.
        all_paths_log10_norms: the same through every path (nothing detached).
        cell_path_slope: least-squares slope of `cell_path_log10_norms` per step.
        all_paths_slope: least-squares slope of `all_paths_log10_norms` per step.
        cell_path_spread: max - min of `cell_path_log10_norms` (0 means exactly flat).
    """
    forget_bias: float | None
    predicted_slope: float
    mean_log10_forget: float
    cell_path_log10_norms: list
    all_paths_log10_norms: list
    cell_path_slope: float
    all_paths_slope: float
    cell_path_spread: float

    @property
    def label(self):
        """"b_f=2" or "f=1 (pinned)"."""
        return "f=1 (pinned)" if self.forget_bias is None else f"b_f={self.forget_bias:g}"


@dataclass
class CellNorms:
    """Gradient norms along the hidden state of a cell as the library initialises it.

    Attributes:
        model: the cell's name (see `cells`), or a learner's cell class's name.
        input_scale: the standard deviation of the Gaussian inputs.
        log10_norms: log10 ||dL/dh_{T-k}|| for k = 0..T, from autograd.
        slope: least-squares slope of `log10_norms` per step, over the distances where the
            gradient is not 0.
        mean_log10_update_gate: for the GRU, mean log10 z_t over the steps and units (the slope
            of the path through the update gate alone); None for the other cells.
        zero_from: the first distance k at which the gradient is exactly 0 (below what float64
            holds, or every ReLU unit inactive on the way back), or None.
    """
    model: str
    input_scale: float
    log10_norms: list
    slope: float
    mean_log10_update_gate: float | None
    zero_from: int | None = None


@dataclass
class NormsResult(ExperimentResult):
    """The three gradient-norm experiments of `run_norms`.

    Attributes:
        timesteps, units, features: the sequence length, state size and input size.
        theory_timesteps: the length (a)-(c) use: T, at most `THEORY_MAX_STEPS`.
        lstm_weight_scale: the factor on the LSTM's default initial weights ("small weights").
        seed: the seed everything was drawn with.
        linear, tanh: `RNNNorms` per rho (tanh: per input scale and rho).
        lstm: `LSTMNorms` per forget bias, then the pinned gate.
        cells: `CellNorms` per input scale and cell, as each starts (default: SimpleRNN, LSTM, GRU).
        seconds: the wall-clock time of the run.
    """
    timesteps: int
    theory_timesteps: int
    units: int
    features: int
    lstm_weight_scale: float
    seed: int
    linear: list
    tanh: list
    lstm: list
    cells: list
    seconds: float

    def table(self):
        """Four tables: (a) linear slopes, (b) tanh slopes and bounds, (c) LSTM cell path, (d) the
        cells as they start."""
        linear = format_table(
            ["rho", "slope", "log10 rho", "difference", "autograd vs Jacobian"],
            [[f"{r.rho:g}", f"{r.slope:.9f}", f"{r.predicted_slope:.9f}", f"{r.slope - r.predicted_slope:+.1e}",
              f"{r.autograd_error:.1e}"] for r in self.linear],
            title=f"(a) linear RNN, U = rho*Q, T={self.theory_timesteps}: slope of log10 ||dL/dh_(T-k)|| per step")
        tanh = format_table(
            ["inputs", "rho", "lambda_1", "mean tanh'", "slope", "pred (geo)", "diff", "pred (rms)", "diff",
             "eq.7 step", "product", "gradient", "bounds"],
            [[f"{r.input_scale:g}", f"{r.rho:g}", f"{r.largest_singular_value:.3f}", f"{r.mean_derivative:.3f}",
              f"{r.slope:+.4f}", f"{r.predicted_slope:+.4f}", f"{r.slope - r.predicted_slope:+.4f}",
              f"{r.predicted_slope_rms:+.4f}", f"{r.slope - r.predicted_slope_rms:+.4f}",
              f"{r.step_bound_ratio:.3f}", f"{r.product_bound_ratio:.3f}", f"{r.gradient_bound_ratio:.3f}",
              "hold" if r.obeys_bounds() else "BROKEN"] for r in self.tanh],
            title=f"(b) tanh RNN, U = rho*Q, T={self.theory_timesteps}. pred (geo) = log10 rho + mean log10 tanh'; "
                  f"pred (rms) = log10 rho + mean log10 rms(tanh').\n    Bound columns: max over steps of "
                  f"measured / (gamma*lambda_1)^k for one step (eq. 7), the Jacobian product, and the "
                  f"gradient (eq. 8); <= 1 means the bound holds.")
        lstm = format_table(
            ["forget gate", "log10 sigma(b_f)", "mean log10 f", "slope, cell path", "diff", "slope, all paths",
             "diff", "spread, cell path"],
            [[r.label, f"{r.predicted_slope:+.4f}", f"{r.mean_log10_forget:+.4f}", f"{r.cell_path_slope:+.4f}",
              f"{r.cell_path_slope - r.predicted_slope:+.4f}", f"{r.all_paths_slope:+.4f}",
              f"{r.all_paths_slope - r.predicted_slope:+.4f}", f"{r.cell_path_spread:.1e}"] for r in self.lstm],
            title=f"(c) LSTM, weights x{self.lstm_weight_scale:g} of the defaults, T={self.theory_timesteps}: slope of "
                  f"log10 ||dL/dc_(T-k)|| per step.\n    Cell path: h_(t-1) detached, so dc_t/dc_(t-1) = "
                  f"diag(f_t) exactly; all paths: nothing detached.")
        middle = self.timesteps // 2
        cells = format_table(
            ["inputs", "model", "slope", f"log10 norm at k={middle}", f"at k={self.timesteps}", "mean log10 z",
             "exactly 0 from k"],
            [[f"{r.input_scale:g}", label_of(r.model), f"{r.slope:+.4f}", f"{r.log10_norms[middle]:+.2f}",
              f"{r.log10_norms[-1]:+.2f}",
              "-" if r.mean_log10_update_gate is None else f"{r.mean_log10_update_gate:+.4f}",
              "-" if r.zero_from is None else str(r.zero_from)] for r in self.cells],
            title=f"(d) cells as they start (see `cells`), T={self.timesteps}: log10 ||dL/dh_(T-k)||.\n"
                  f"    mean log10 z: the GRU's path through its update gate alone (dh_t/dh_(t-1) = diag(z_t) "
                  f"there); the path through the candidate makes the measured slope less steep.")
        return f"{linear}\n\n{tanh}\n\n{lstm}\n\n{cells}\n\n({self.seconds:.1f} s)"

    def rows(self):
        """One row per configuration, with the measured slope and its prediction."""
        rows = [{"experiment": f"{r.activation} rnn", "input_scale": r.input_scale, "parameter": r.rho,
                 "slope": r.slope, "predicted_slope": r.predicted_slope,
                 "predicted_slope_rms": r.predicted_slope_rms, "bounds_hold": r.obeys_bounds(),
                 "all_paths_slope": None} for r in self.linear + self.tanh]
        rows += [{"experiment": "lstm cell path", "input_scale": 1.0,
                  "parameter": "pinned" if r.forget_bias is None else r.forget_bias,
                  "slope": r.cell_path_slope, "predicted_slope": r.predicted_slope,
                  "predicted_slope_rms": None, "bounds_hold": None, "all_paths_slope": r.all_paths_slope}
                 for r in self.lstm]
        rows += [{"experiment": f"{r.model} defaults", "input_scale": r.input_scale, "parameter": None,
                  "slope": r.slope, "predicted_slope": r.mean_log10_update_gate, "predicted_slope_rms": None,
                  "bounds_hold": None, "all_paths_slope": None} for r in self.cells]
        return rows

    def plot(self, path):
        """log10 gradient norm against distance k: (a) linear, (b) tanh (inputs x1), (c) LSTM,
        (d) the cells as they start."""
        figure = new_figure(20, 4.5)
        linear_axes, tanh_axes, lstm_axes, cell_axes = figure.subplots(1, 4)
        steps = np.arange(self.theory_timesteps + 1)
        for row in self.linear:
            line, = linear_axes.plot(steps, row.log10_norms, label=f"rho={row.rho:g}")
            linear_axes.plot(steps, steps * math.log10(row.rho), ":", color=line.get_color())
        linear_axes.set_title("(a) linear RNN (dotted: k log10 rho)")
        first_scale = self.tanh[0].input_scale
        shown = [r for r in self.tanh if r.input_scale == first_scale]
        for row in shown:
            line, = tanh_axes.plot(steps, row.log10_norms, label=f"rho={row.rho:g}")
            tanh_axes.plot(steps, steps * math.log10(row.rho), ":", color=line.get_color())
        tanh_axes.set_title(f"(b) tanh RNN, inputs x{first_scale:g} (dotted: eq. 7 bound)")
        # The bound for large rho climbs far above every measurement; keep the measurements in view.
        shown_norms = np.concatenate([r.log10_norms for r in shown])
        shown_norms = shown_norms[np.isfinite(shown_norms)]
        tanh_axes.set_ylim(shown_norms.min() - 2, shown_norms.max() + 4)
        for row in self.lstm:
            line, = lstm_axes.plot(steps, row.cell_path_log10_norms, label=row.label)
            lstm_axes.plot(steps, row.all_paths_log10_norms, "--", color=line.get_color())
            lstm_axes.plot(steps, steps * row.predicted_slope, ":", color="black", linewidth=0.8)
        lstm_axes.set_title("(c) LSTM cell path (dashed: all paths)")
        first_scale, steps = self.cells[0].input_scale, np.arange(self.timesteps + 1)
        for row in self.cells:
            first = row.input_scale == first_scale
            cell_axes.plot(steps, row.log10_norms, "-" if first else "--", color=colour_of(row.model),
                           label=f"{label_of(row.model)}, inputs x{row.input_scale:g}")
        cell_axes.set_title("(d) cells as they start, hidden state (no theory line)")
        for axes in (linear_axes, tanh_axes, lstm_axes, cell_axes):
            axes.set_xlabel("distance k (steps back from T)")
            axes.set_ylabel("log10 ||dL/ds_(T-k)||")
            axes.legend(fontsize="small")
        save_figure(figure, path)


def run_norms(timesteps=100, units=32, features=8, rhos=RHOS, input_scales=INPUT_SCALES,
              forget_biases=FORGET_BIASES, lstm_weight_scale=0.1, cells=DEFAULT_CELLS, seed=0):
    """Run (a) the linear RNN, (b) the tanh RNN, (c) the LSTM cell-path measurements and (d) the
    cells with default weights.

    Args:
        timesteps: the sequence length T.
        units: the state size.
        features: the input size.
        rhos: the scales of the orthogonal recurrent kernel for (a) and (b).
        input_scales: the input standard deviations for (b) and (d).
        forget_biases: the forget-gate biases for (c); a pinned gate (f = 1) is added.
        lstm_weight_scale: the factor on the LSTM's default initial weights in (c).
        cells: the cells compared in (d): names of `cells.CELL_NAMES` or `RecurrentCell`
            subclasses (default: SimpleRNN, LSTM, GRU).
        seed: draws the inputs, the read-out vector and the weights (the same for every row).

    Returns:
        A `NormsResult`.

    Raises:
        ValueError: for an unknown or repeated cell (the message lists the valid ones) or a bad
            size (named).
    """
    cells = check_cells(cells, "run_norms")
    for value, argument in ((timesteps, "timesteps"), (units, "units"), (features, "features")):
        checks.positive_int(value, argument, "run_norms")
    start = time.perf_counter()
    theory_timesteps = min(timesteps, THEORY_MAX_STEPS)
    shape = dict(timesteps=theory_timesteps, units=units, features=features, seed=seed)
    linear = [rnn_norms("linear", rho, **shape) for rho in rhos]
    tanh = [rnn_norms("tanh", rho, input_scale=scale, **shape) for scale in input_scales for rho in rhos]
    lstm = [lstm_norms(bias, weight_scale=lstm_weight_scale, **shape) for bias in (*forget_biases, None)]
    measured = [cell_norms(cell, input_scale=scale, **dict(shape, timesteps=timesteps))
                for scale in input_scales for cell in cells]
    return NormsResult(timesteps, theory_timesteps, units, features, lstm_weight_scale, seed, linear, tanh, lstm,
                       measured, time.perf_counter() - start)


def rnn_norms(activation, rho, input_scale=1.0, timesteps=100, units=32, features=8, seed=0):
    """Measure ||dL/dh_{T-k}|| through a `SimpleRNNCell` with recurrent kernel rho * Q.

    Args:
        activation: "linear" or "tanh".
        rho: the scale of the random orthogonal recurrent kernel.
        input_scale: the standard deviation of the Gaussian inputs.
        timesteps, units, features: the sequence length, state size and input size.
        seed: draws the inputs, the read-out vector and the weights.

    Returns:
        An `RNNNorms`, with the eq. 7 / eq. 8 bounds checked against exact Jacobian products.
    """
    random.seed(seed)
    inputs, readout = _draw_inputs(timesteps, features, units, input_scale)
    cell = SimpleRNNCell(units, activation=activation, dtype="float64",
                         recurrent_initializer=functools.partial(init.orthogonal, gain=rho))
    states, gradients = _unroll(cell, inputs, readout, studied=0)
    hidden = np.concatenate([s[0].data for s in states])                      # h_0 .. h_T
    derivative = 1 - hidden[1:] ** 2 if activation == "tanh" else np.ones_like(hidden[1:])
    recurrent = cell.recurrent_kernel.data
    lambda_1 = np.linalg.norm(recurrent, 2)
    bound = (GAMMA_TANH * lambda_1) ** np.arange(timesteps + 1)

    # Exact Jacobian products dh_T/dh_{T-k} = J_T J_{T-1} ... J_{T-k+1}, for k = 0..T.
    product = np.eye(units)
    step_norms, product_norms, errors = [], [1.0], [0.0]
    for k in range(1, timesteps + 1):
        jacobian = derivative[timesteps - k][:, None] * recurrent.T            # J_{T-k+1}
        step_norms.append(np.linalg.norm(jacobian, 2))
        product = product @ jacobian
        product_norms.append(np.linalg.norm(product, 2))
        exact = readout @ product
        # Relative to the exact gradient, or absolute once that is 0 (below what float64 holds).
        errors.append(np.linalg.norm(gradients[timesteps - k] - exact) / (np.linalg.norm(exact) or 1.0))
    norms = _by_distance(gradients)
    log10_norms = _log10(norms)
    return RNNNorms(
        activation=activation, rho=float(rho), input_scale=float(input_scale),
        largest_singular_value=float(lambda_1), log10_norms=log10_norms.tolist(),
        slope=fitted_slope(log10_norms),
        predicted_slope=float(math.log10(rho) + np.log10(derivative).mean()),
        predicted_slope_rms=float(math.log10(rho) + np.log10(np.sqrt((derivative ** 2).mean(axis=1))).mean()),
        mean_derivative=float(derivative.mean()),
        step_bound_ratio=float(max(step_norms) / (GAMMA_TANH * lambda_1)),
        # k = 0 is left out of the ratios: there both sides are 1 by definition.
        product_bound_ratio=float(np.max(np.array(product_norms[1:]) / bound[1:])),
        gradient_bound_ratio=float(np.max(norms[1:] / (bound[1:] * norms[0]))),
        autograd_error=float(max(errors)))


def lstm_norms(forget_bias, weight_scale=0.1, timesteps=100, units=32, features=8, seed=0):
    """Measure ||dL/dc_{T-k}|| through an `LSTMCell`, along the cell path and along all paths.

    Args:
        forget_bias: the forget-gate bias b_f, or None to pin the forget gate at exactly 1
            (zero forget-gate weights and a bias whose sigmoid rounds to 1.0).
        weight_scale: the factor on Keras's initial kernel and recurrent kernel.
        timesteps, units, features: the sequence length, state size and input size.
        seed: draws the inputs, the read-out vector and the weights.

    Returns:
        An `LSTMNorms`.
    """
    random.seed(seed)
    inputs, readout = _draw_inputs(timesteps, features, units, input_scale=1.0)
    pinned = forget_bias is None
    forget = slice(units, 2 * units)  # the forget gate's columns (gate order i, f, c, o)

    forget_weights = 0.0 if pinned else None  # pinned: the forget gate ignores x and h
    cell = LSTMCell(units, unit_forget_bias=False, dtype="float64",
                    kernel_initializer=_initializer("glorot_uniform", weight_scale, forget, forget_weights),
                    recurrent_initializer=_initializer("orthogonal", weight_scale, forget, forget_weights),
                    bias_initializer=_initializer(None, 0.0, forget, PINNED_FORGET_LOGIT if pinned else forget_bias))
    cell_path_states, cell_path = _unroll(cell, inputs, readout, studied=1, cut_hidden_path=True)
    _, all_paths = _unroll(cell, inputs, readout, studied=1)

    # The forget gates the forward pass used, recomputed from the recorded h_{t-1}.
    hidden = np.concatenate([s[0].data for s in cell_path_states[:-1]])       # h_0 .. h_{T-1}
    logits = (inputs[:, 0] @ cell.kernel.data + cell.bias.data + hidden @ cell.recurrent_kernel.data)[:, forget]
    forget_gates = ops.sigmoid(Tensor(logits)).data

    cell_norms, all_norms = _log10(_by_distance(cell_path)), _log10(_by_distance(all_paths))
    return LSTMNorms(
        forget_bias=None if pinned else float(forget_bias),
        predicted_slope=0.0 if pinned else -math.log10(1 + math.exp(-forget_bias)),  # log10 sigma(b_f)
        mean_log10_forget=float(np.log10(forget_gates).mean()),
        cell_path_log10_norms=cell_norms.tolist(), all_paths_log10_norms=all_norms.tolist(),
        cell_path_slope=fitted_slope(cell_norms), all_paths_slope=fitted_slope(all_norms),
        cell_path_spread=float(cell_norms.max() - cell_norms.min()))


def cell_norms(model, input_scale=1.0, timesteps=100, units=32, features=8, seed=0):
    """Measure ||dL/dh_{T-k}|| through a cell as it starts (`cells`: the library's defaults, or
    the IRNN's, or chrono with T_max = T).

    Args:
        model: a cell: a name of `cells.CELL_NAMES` ("rnn", "irnn", "lstm", "lstm_chrono",
            "gru") or a `RecurrentCell` subclass.
        input_scale: the standard deviation of the Gaussian inputs.
        timesteps, units, features: the sequence length, state size and input size.
        seed: draws the inputs and the read-out vector (the same for every model), then the weights.

    Returns:
        A `CellNorms`.
    """
    (model,) = check_cells(model, "cell_norms")
    random.seed(seed)
    inputs, readout = _draw_inputs(timesteps, features, units, input_scale)
    cell = make_cell(model, units, dtype="float64")
    cell.build((1, features))
    cell.built = True
    initialise_for_dependency(model, cell, timesteps)
    states, gradients = _unroll(cell, inputs, readout, studied=0)
    norms = _by_distance(gradients)
    log10_norms = _log10(norms)
    update_gate = None
    if model == "gru":
        # The update gates the forward pass used (gate order z, r, h), from the recorded h_{t-1}.
        hidden = np.concatenate([s[0].data for s in states[:-1]])             # h_0 .. h_{T-1}
        logits = (inputs[:, 0] @ cell.kernel.data + cell.bias.data[0]
                  + hidden @ cell.recurrent_kernel.data + cell.bias.data[1])[:, :units]
        update_gate = float(np.log10(ops.sigmoid(Tensor(logits)).data).mean())
    return CellNorms(model=cell_name(model), input_scale=float(input_scale), log10_norms=log10_norms.tolist(),
                     slope=fitted_slope(log10_norms), mean_log10_update_gate=update_gate,
                     zero_from=int(np.argmax(norms == 0)) if (norms == 0).any() else None)


def _initializer(name, scale, columns, value):
    """`scale` times the initializer called `name` (zeros if None), then `columns` set to
    `value` (unless it is None).

    Every column is drawn even when some are overwritten, so that all rows of an experiment
    consume the same random numbers and share the other gates' weights.
    """
    def draw(shape, dtype):
        values = scale * init.get(name)(shape, dtype) if name else np.zeros(shape, dtype)
        if value is not None:
            values[..., columns] = value
        return values
    return draw


def _log10(values):
    """log10 of non-negative values, -inf (without a warning) where a value is exactly 0."""
    with np.errstate(divide="ignore"):
        return np.log10(values)


def _by_distance(gradients):
    """||dL/ds_{T-k}|| for k = 0..T, from the gradients listed by time t = 0..T."""
    return np.array([np.linalg.norm(gradient) for gradient in reversed(gradients)])


def _draw_inputs(timesteps, features, units, input_scale):
    """Gaussian inputs (T, 1, features) and a random unit read-out vector (1, units).

    Drawn before the cell builds its weights, so every row of an experiment sees the same
    inputs, read-out and (unscaled) weights; only the parameter under study changes.
    """
    generator = random.generator()
    inputs = input_scale * generator.standard_normal((timesteps, 1, features))
    readout = generator.standard_normal((1, units))
    return inputs, readout / np.linalg.norm(readout)


def _unroll(cell, inputs, readout, studied, cut_hidden_path=False):
    """Run `cell` over `inputs` from zero states, backpropagate L = <readout, state_T>.

    Args:
        cell: a recurrent cell (its first call builds it).
        inputs: (T, 1, features).
        readout: the unit vector v, (1, units).
        studied: which state L reads and whose gradients are kept (0: h, 1: the LSTM's c).
        cut_hidden_path: feed h_{t-1} into each step detached, so gradients reach earlier
            states only through the other states (for the LSTM: only along c).

    Returns:
        (states, gradients): the states at t = 0..T (lists of tensors) and dL/d state_t
        for t = 0..T.
    """
    states = cell.get_initial_state(1)
    states[studied] = Tensor(states[studied].data, requires_grad=True)  # so dL/ds_0 is kept too
    history = [states]
    for step_input in inputs:
        fed = [states[0].detach(), *states[1:]] if cut_hidden_path else states
        _, states = cell(Tensor(step_input), fed)
        states[studied].retain_grad()
        history.append(states)
    (states[studied] * Tensor(readout)).sum().backward()
    return history, [s[studied].grad for s in history]
