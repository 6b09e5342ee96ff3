"""What every exercise's checker shares: loading the learner's file, calling their functions,
comparing with a reference, and naming the mistake when an answer is wrong.

A checker raises `CheckFailure(message)` at the first wrong answer; the message is what the
learner reads, so it says which output or gradient is wrong, where, and (when the answer matches
a known mistake) which mistake. Known mistakes are run as variants of the reference on the same
inputs: when the learner's numbers equal a variant's numbers, that variant's description is the
diagnosis. Everything runs in float64, with numpy's floating-point warnings silenced (an answer
with NaN in it is reported as an answer, not as a warning).
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import re
import sys
import textwrap
import traceback
import types
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Callable

import numpy as np

from ..tensor import Tensor

RTOL, ATOL = 1e-6, 1e-9   # float64 answers computed another way agree far closer than this
_module_numbers = count()


class CheckFailure(Exception):
    """A wrong (or unrunnable) answer; the message is shown to the learner as it is."""


@dataclass(frozen=True)
class Exercise:
    """One graded exercise.

    Attributes:
        name: what `tinyseq exercise start NAME` takes, e.g. "rnn_cell".
        tutorial: the tutorial it belongs to, e.g. "02_recurrent_networks".
        task: one line saying what the learner writes.
        introduction: the stub's docstring: the task, the equations, the shapes, how to check.
        imports: the stub's import lines.
        solution: the reference solution, as functions named as the learner's must be; the stub
            keeps their signatures and docstrings and replaces their bodies.
        given: classes or functions the stub includes whole (code the learner works with).
        check: `check(functions) -> cases`: runs the learner's functions (a dict name ->
            function), returns how many cases passed, raises CheckFailure otherwise.
    """
    name: str
    tutorial: str
    task: str
    introduction: str
    imports: str
    solution: tuple
    check: Callable
    given: tuple = ()

    @property
    def function_names(self):
        """The names of the functions the learner writes."""
        return tuple(function.__name__ for function in self.solution)

    def stub(self):
        """The text of the file `start` writes: task, imports, given code and bodiless functions."""
        parts = [f'"""{self.introduction.strip()}\n"""\n', self.imports.strip() + "\n",
                 f'EXERCISE = "{self.name}"  # which exercise this file answers (the checker reads it)\n']
        parts += [_source(item) for item in self.given]
        parts += [_without_body(function, self.name) for function in self.solution]
        return "\n\n".join(parts)

    def solution_source(self):
        """A complete file answering the exercise (for tests; `start` never writes it)."""
        parts = [self.imports.strip() + "\n", f'EXERCISE = "{self.name}"\n']
        parts += [_source(item) for item in self.given + self.solution]
        return "\n\n".join(parts)


def _source(item):
    return textwrap.dedent(inspect.getsource(item)).rstrip() + "\n"


def _without_body(function, exercise_name):
    """The function's source up to the end of its docstring, then a body that raises."""
    source = _source(function)
    definition = ast.parse(source).body[0]
    docstring_end = definition.body[0].end_lineno
    head = "\n".join(source.splitlines()[:docstring_end])
    return (f"{head}\n    # TODO: your code here (then run: tinyseq exercise check {exercise_name}.py)\n"
            f'    raise NotImplementedError("{function.__name__} is not written yet")\n')


# ---- the learner's file ------------------------------------------------------------------------
def exercise_name_in(path):
    """The exercise a file answers: its `EXERCISE = "..."` line, else the file's name."""
    match = re.search(r'^EXERCISE\s*=\s*["\'](\w+)["\']', Path(path).read_text(), re.MULTILINE)
    return match.group(1) if match else Path(path).stem


@contextlib.contextmanager
def learner_module(path, names):
    """`with learner_module(path, names) as functions:` runs the file as a fresh module (its own
    name, removed again afterwards, so nothing leaks between checks) and gives its functions
    `names` as a dict.

    Raises:
        CheckFailure: for a syntax error, an error while the file runs, or a missing function.
    """
    path = Path(path)
    try:
        code = compile(path.read_text(), str(path), "exec")
    except SyntaxError as error:
        pointer = " " * max((error.offset or 1) - 1, 0) + "^"
        raise CheckFailure(f"{path.name}, line {error.lineno}: {error.msg}\n"
                           f"    {(error.text or '').rstrip()}\n    {pointer}") from None
    module = types.ModuleType(f"tinyseq_learner_{next(_module_numbers)}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # dataclasses and pickling look modules up here
    try:
        try:
            with np.errstate(all="ignore"):
                exec(code, module.__dict__)
        except (Exception, SystemExit) as error:
            raise CheckFailure(f"running {path.name} failed before any check: {_describe(error, str(path))}") from None
        missing = [name for name in names if not callable(getattr(module, name, None))]
        if missing:
            raise CheckFailure(f"{path.name} defines no function {', '.join(missing)}; the exercise "
                               f"needs {', '.join(names)} (keep the names and signatures of the stub)")
        yield {name: getattr(module, name) for name in names}
    finally:
        sys.modules.pop(module.__name__, None)


def _describe(error, filename):
    """`Type: message`, then the learner's own line where it was raised."""
    location = _location(error, filename)
    return f"{type(error).__name__}: {error}" + (f"\n    {location}" if location else "")


def _location(error, filename):
    """`file, line N, in function: code` for the last traceback frame in the learner's file."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == filename]
    if not frames:
        return ""
    frame = frames[-1]
    return f"{Path(filename).name}, line {frame.lineno}, in {frame.name}: {(frame.line or '').strip()}"


def call(function, *args, hint=""):
    """Call a learner's function; any exception becomes a CheckFailure naming their line.

    Args:
        function: the learner's function.
        *args: its arguments.
        hint: appended to the message when the function raises (e.g. the expected layout); a
            function of the exception that returns the text, or the text itself.
    """
    name = function.__name__
    try:
        with np.errstate(all="ignore"):
            return function(*args)
    except NotImplementedError as error:
        raise CheckFailure(f"{name} is not written yet: it raises NotImplementedError "
                           f"({_location(error, function.__code__.co_filename)}). Replace that line with "
                           f"your code.") from None
    except RecursionError:
        raise CheckFailure(f"{name} raised RecursionError: it recurses once per node or step, and the "
                           f"checker's largest case is deeper than Python's recursion limit "
                           f"({sys.getrecursionlimit()}). Use a loop with an explicit stack (a list you "
                           f"append to and pop from).") from None
    except (Exception, SystemExit) as error:
        extra = hint(error) if callable(hint) else hint
        raise CheckFailure(f"{name} raised {_describe(error, function.__code__.co_filename)}"
                           + (f"\n{extra}" if extra else "")) from None


# ---- comparing -------------------------------------------------------------------------------
def agree(actual, expected):
    """Whether two arrays have the same shape and agree to float64 round-off (NaN equals NaN)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    return actual.shape == expected.shape and bool(
        np.allclose(actual, expected, rtol=RTOL, atol=ATOL, equal_nan=True))


def worst_difference(actual, expected, columns=None):
    """Where two same-shape arrays differ most, as text: the index, both values and, with
    `columns` (a function of a column index returning its gate's name), the gate."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.ndim == 0:
        return f"yours {actual.item():.6g}, expected {expected.item():.6g}"
    gap = np.abs(actual - expected)
    gap[np.isnan(gap)] = np.inf
    index = np.unravel_index(int(np.argmax(gap)), gap.shape)
    where = f"at {tuple(int(i) for i in index)}"
    if columns is not None:
        where += f" ({columns(int(index[-1]))})"
    return f"{where}: yours {actual[index]:.6g}, expected {expected[index]:.6g}"


def differing_blocks(actual, expected, gate_names):
    """The names of the gates whose block of last-axis columns differs between two arrays."""
    width = actual.shape[-1] // len(gate_names)
    return [gate for index, gate in enumerate(gate_names)
            if not agree(actual[..., index * width:(index + 1) * width],
                         expected[..., index * width:(index + 1) * width])]


def matching_mistake(actual, expected, mistakes, *args):
    """The description of the first known mistake whose result equals the learner's.

    Args:
        actual: the learner's results (a tuple of arrays).
        expected: the reference results (a mistake that gives the same numbers here is skipped).
        mistakes: (description, function) pairs; each function takes `*args` and returns a
            tuple of arrays like the learner's.
        *args: the inputs.

    Returns:
        The description, or None when no known mistake matches.
    """
    for description, mistake in mistakes:
        try:
            with np.errstate(all="ignore"):
                candidate = mistake(*args)
        except ValueError:  # this mistake cannot run on these shapes
            continue
        if len(candidate) != len(actual):
            continue
        matches_learner = all(agree(mine, theirs) for mine, theirs in zip(actual, candidate))
        matches_reference = all(agree(theirs, wanted) for theirs, wanted in zip(candidate, expected))
        if matches_learner and not matches_reference:
            return description
    return None


def returned_tensors(result, function_name, output_names, shapes):
    """The learner's result as a tuple of float64 tensors, after checking its type and shapes.

    Args:
        result: what the learner's function returned.
        function_name: its name, for messages.
        output_names: e.g. ("h_new",) or ("h_new", "c_new").
        shapes: the expected shape of each output.
    """
    several = len(output_names) > 1
    expected_form = f"a tuple ({', '.join(output_names)})" if several else f"one tensor {output_names[0]}"
    if several and not (isinstance(result, (tuple, list)) and len(result) == len(output_names)):
        raise CheckFailure(f"{function_name} returned {_kind(result)}; return {expected_form}")
    outputs = tuple(result) if several else (result,)
    for name, output, shape in zip(output_names, outputs, shapes):
        if isinstance(output, np.ndarray):
            raise CheckFailure(f"{function_name} returned {name} as a numpy array; return a tinyseq Tensor "
                               f"computed with tinyseq's ops (x @ kernel, ops.tanh, ...) so that gradients "
                               f"can flow back through it")
        if not isinstance(output, Tensor):
            raise CheckFailure(f"{function_name} returned {_kind(output)} for {name}; return {expected_form}")
        if output.shape != shape:
            raise CheckFailure(f"{function_name} returned {name} of shape {output.shape}; expected {shape}"
                               + (" (batch, units)" if len(shape) == 2 else ""))
        if output.dtype != np.float64:
            raise CheckFailure(f"{function_name} returned {name} as {output.dtype} for float64 inputs; "
                               f"keep the inputs' dtype (do not convert or create float32 arrays)")
    return outputs


def returned_arrays(result, names, where):
    """The learner's result as float64 numpy arrays, one per name, after checking its form.

    Args:
        result: what the learner's function returned: one array when `names` has one name,
            else a tuple or list of as many arrays.
        names: what each array is, for messages (e.g. ("grad_a", "grad_b")).
        where: the function and case, for messages.
    """
    several = len(names) > 1
    if several and not (isinstance(result, (tuple, list)) and len(result) == len(names)):
        raise CheckFailure(f"{where}: returned {_kind(result)}; return {len(names)} arrays ({', '.join(names)})")
    arrays = []
    for name, value in zip(names, result if several else (result,)):
        try:
            if value is None:  # numpy would turn it into NaN
                raise TypeError
            arrays.append(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError):
            raise CheckFailure(f"{where}: {name} is {_kind(value)}, not an array of numbers") from None
    return arrays


def _kind(value):
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return "None (a missing return?)" if value is None else f"a {type(value).__name__}"


def random_arrays(seed, **shapes):
    """Normal random float64 arrays, one per keyword (name=shape), from one seed."""
    generator = np.random.default_rng(seed)
    return {name: generator.standard_normal(shape) for name, shape in shapes.items()}


# ---- exercises that write a function of tensors ---------------------------------------------------
def cell_with_weights(cell_class, kernel, recurrent_kernel, bias):
    """A tinyseq cell (the reference) whose weights are the given tensors, so that gradients
    reach them; units come from recurrent_kernel's first axis."""
    cell = cell_class(recurrent_kernel.shape[0], dtype="float64")
    cell.kernel, cell.recurrent_kernel, cell.bias = kernel, recurrent_kernel, bias
    cell.input_features, cell.built = kernel.shape[0], True
    return cell


def check_tensor_function(function, cases, reference, output_names, mistakes=(), gate_names=(), probes=(), hint=""):
    """Compare a learner's function of tensors with tinyseq's reference: outputs, then gradients.

    Args:
        function: the learner's function.
        cases: (label, arguments) pairs; `arguments` maps each argument name (in the function's
            order) to an array. Float arrays become float64 leaf tensors that require grad;
            other arrays (masks) are passed as they are.
        reference: takes the same arguments (as tensors) and returns a tuple of tensors.
        output_names: the names of what the function returns, e.g. ("h_new", "c_new").
        mistakes: (description, function) pairs; each function takes the arguments as arrays
            (by name) and returns a tuple of arrays.
        gate_names: the gates whose blocks of columns the weights hold side by side, to name
            the block where a gradient of kernel, recurrent_kernel or bias differs.
        probes: (gate, {block: bias offset}, output index) triples, run when wrong outputs match
            no known mistake: large offsets on the other gates' biases pin them open or shut,
            so that output shows this gate alone (see `_gates_that_differ`).
        hint: added to the message when the function raises.

    Returns:
        The number of cases that passed (all of them; the first wrong one raises CheckFailure).
    """
    name = function.__name__
    for number, (label, arguments) in enumerate(cases, 1):
        where = f"case {number} of {len(cases)} ({label})"
        learner_inputs, reference_inputs = _leaves(arguments), _leaves(arguments)
        expected = reference(**reference_inputs)
        outputs = returned_tensors(call(function, *learner_inputs.values(),
                                        hint=lambda error: hint + _transposed(arguments, str(error))),
                                   name, output_names, [wanted.shape for wanted in expected])
        wrong = [i for i, (output, wanted) in enumerate(zip(outputs, expected)) if not agree(output.data, wanted.data)]
        if wrong:
            details = "; ".join(f"{output_names[i]} is wrong {worst_difference(outputs[i].data, expected[i].data)}"
                                for i in wrong)
            right = [output_names[i] for i in range(len(outputs)) if i not in wrong]
            message = f"{name}, {where}: {details}" + (f"; {', '.join(right)} right." if right else ".")
            mistake = matching_mistake([output.data for output in outputs], [wanted.data for wanted in expected],
                                       [(description, _by_name(variant, arguments))
                                        for description, variant in mistakes])
            if mistake:
                raise CheckFailure(f"{message}\nYour numbers match a known mistake: {mistake}")
            raise CheckFailure(f"{message}\nThey match none of the known mistakes"
                               + _gates_that_differ(function, arguments, reference, output_names, probes, len(gate_names))
                               + ": compare your code with the equations in the docstring, one line at a time.")
        _check_gradients(name, where, outputs, expected, learner_inputs, reference_inputs, gate_names, number)
    return len(cases)


def _gates_that_differ(function, arguments, reference, output_names, probes, gate_count):
    """", but gate by gate ..." naming the gates whose probe disagrees with the reference (or "")."""
    if not probes:
        return ""
    differing = []
    for gate, offsets, output in probes:
        probed = dict(arguments, bias=arguments["bias"].copy())
        width = probed["bias"].shape[-1] // gate_count
        for block, offset in offsets.items():
            probed["bias"][..., block * width:(block + 1) * width] += offset
        expected = reference(**_leaves(probed))
        actual = returned_tensors(call(function, *_leaves(probed).values()), function.__name__, output_names,
                                  [wanted.shape for wanted in expected])
        if not agree(actual[output].data, expected[output].data):
            differing.append(gate)
    agreeing = [gate for gate, _, _ in probes if gate not in differing]
    if not differing:
        return ", and gate by gate (the other gates pinned open or shut by large biases) every gate agrees"
    return (f", but gate by gate (the other gates pinned open or shut by large biases) your {_listed(differing)} "
            f"{'differs' if len(differing) == 1 else 'differ'} from the reference"
            + (f" while the {_listed(agreeing)} {'agrees' if len(agreeing) == 1 else 'agree'}" if agreeing else ""))


def _listed(names):
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _transposed(arguments, message):
    """A line for each non-square weight whose transposed shape appears in an error message."""
    return "".join(f"\nThe shape {value.shape[::-1]} in the error is {name} transposed: use {name} as it is, "
                   f"{value.shape}." for name, value in arguments.items()
                   if name in ("kernel", "recurrent_kernel") and value.shape[0] != value.shape[1]
                   and str(value.shape[::-1]) in message)


def _leaves(arguments):
    return {key: Tensor(value.copy(), requires_grad=True) if value.dtype.kind == "f" else value.copy()
            for key, value in arguments.items()}


def _by_name(mistake, arguments):
    return lambda: mistake(**{key: value.copy() for key, value in arguments.items()})


def _check_gradients(name, where, outputs, expected, learner_inputs, reference_inputs, gate_names, seed):
    """Backward from the same weighted sum of the outputs through both; compare the leaves' gradients."""
    generator = np.random.default_rng(seed)
    weights = [generator.standard_normal(wanted.shape) for wanted in expected]
    if not any(output.requires_grad for output in outputs):
        raise CheckFailure(f"{name}, {where}: the outputs are right but nothing is connected to the inputs in "
                           f"the graph, so no gradient can flow. Compute with tinyseq's ops on the tensors "
                           f"themselves (not on .data or numpy arrays, and without making new tensors from values).")
    sum((output * Tensor(weight)).sum() for output, weight in zip(outputs, weights) if output.requires_grad).backward()
    sum((wanted * Tensor(weight)).sum() for wanted, weight in zip(expected, weights)).backward()
    # The weights first: their gradients say which gate's block of columns is wrong.
    order = sorted(learner_inputs, key=lambda argument: argument not in ("kernel", "recurrent_kernel", "bias"))
    for argument in order:
        leaf = learner_inputs[argument]
        if not isinstance(leaf, Tensor):
            continue
        reference_grad = reference_inputs[argument].grad
        if leaf.grad is None:
            raise CheckFailure(f"{name}, {where}: the outputs are right but no gradient reaches {argument}: "
                               f"somewhere the computation left the graph (numpy on .data, or a new tensor "
                               f"made from values). Use tinyseq's ops on the tensors themselves.")
        if agree(leaf.grad, reference_grad):
            continue
        gates = argument in ("kernel", "recurrent_kernel", "bias") and len(gate_names) > 1
        width = leaf.shape[-1] // max(len(gate_names), 1)
        columns = (lambda column: f"the {gate_names[column // width]} block") if gates else None
        blocks = (f" in the columns of the {' and the '.join(differing_blocks(leaf.grad, reference_grad, gate_names))}"
                  if gates else "")
        raise CheckFailure(f"{name}, {where}: the outputs are right but the gradient with respect to {argument} "
                           f"is wrong{blocks}, {worst_difference(leaf.grad, reference_grad, columns)}. Part of "
                           f"the computation left the graph or has a hand-made gradient: use tinyseq's ops throughout.")
