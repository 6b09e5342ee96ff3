"""The graded exercises: every reference passes, every stub fails, typical mistakes are named,
and `tinyseq exercise` reports user errors in one line.

A learner's answer is made here the way a learner makes it: a file, either the reference
solution with one line changed (the mistake) or a whole wrong function. Files are checked
with `check_file` (an isolated import under a fresh module name) or, for the whole command,
in a subprocess started in an empty folder.
"""

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tinyseq import exercises
from tinyseq.apps import cli

NAMES = list(exercises.EXERCISES)


def write(folder, name, source, filename=None):
    path = folder / (filename or f"{name}.py")
    path.write_text(source)
    return path


def mutated(name, old, new):
    """The reference solution of `name` with the last occurrence of `old` (in the code, after
    the docstrings) replaced by `new`."""
    source = exercises.get(name).solution_source()
    head, found, tail = source.rpartition(old)
    assert found, f"{old!r} is not in the solution of {name}"
    return "import numpy as np\nimport tinyseq\n" + head + new + tail


def check(folder, name, source):
    return exercises.check_file(write(folder, name, source))


# ---- references and stubs ---------------------------------------------------------------------
def test_the_course_has_its_eight_exercises_in_order():
    assert NAMES == ["engine_backward", "broadcast_backward", "rnn_cell", "bptt", "gradient_clipping",
                     "lstm_cell", "padding_mask", "gru_cell"]
    assert exercises.get("lstm_cell").tutorial == "04_lstm"


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_solution_passes(tmp_path, name):
    passed, message = check(tmp_path, name, exercises.get(name).solution_source())
    assert passed, message
    assert message.startswith(f"{name}.py: {name}: passed: ") and message.endswith(" cases.")
    assert int(message.split("passed: ")[1].split()[0]) >= 4


@pytest.mark.parametrize("name", NAMES)
def test_the_stub_fails_saying_what_is_not_written(tmp_path, name):
    path = exercises.start(name, tmp_path)
    passed, message = exercises.check_file(path)
    first_function = exercises.get(name).function_names[-1 if name == "engine_backward" else 0]
    assert not passed
    assert f"{first_function} is not written yet: it raises NotImplementedError ({name}.py, line " in message


@pytest.mark.parametrize("name", NAMES)
def test_the_stub_states_the_task_and_keeps_the_signatures(tmp_path, name):
    exercise = exercises.get(name)
    source = exercises.start(name, tmp_path).read_text()
    assert source.startswith(f'"""Exercise {name} (tutorial {exercise.tutorial[:2]})')
    assert f"tinyseq exercise check {name}.py" in source
    compile(source, name, "exec")
    for function in exercise.solution:
        assert f"def {function.__name__}(" in source
        assert function.__doc__ in source
        body = inspect.getsource(function).split('"""')[2]  # the code after the docstring
        assert body.strip() and body not in source
    assert source.count("raise NotImplementedError") == len(exercise.solution)


# ---- typical mistakes are named ---------------------------------------------------------------
MISTAKES = [
    # (exercise, code in the reference, the learner's version, words the message must contain)
    ("rnn_cell", "ops.tanh(x @ kernel + h @ recurrent_kernel + bias)", "x @ kernel + h @ recurrent_kernel + bias",
     "the tanh is missing"),
    ("rnn_cell", "h @ recurrent_kernel + bias)", "h @ recurrent_kernel.T + bias)",
     "the recurrent kernel is transposed"),
    ("rnn_cell", "+ bias)", "- bias)", "the bias is subtracted"),
    ("rnn_cell", "x @ kernel +", "x @ kernel.T +", "rnn_cell.py, line 11, in rnn_step: return ops.tanh(x @ kernel.T"),
    ("lstm_cell", "input_gate = ops.sigmoid(z[:, 0 * units:1 * units])\n"
                  "    forget_gate = ops.sigmoid(z[:, 1 * units:2 * units])",
     "forget_gate = ops.sigmoid(z[:, 0 * units:1 * units])\n    input_gate = ops.sigmoid(z[:, 1 * units:2 * units])",
     "your input gate reads the forget gate's columns, your forget gate reads the input gate's columns"),
    ("lstm_cell", "output_gate * ops.tanh(c_new)", "output_gate * c_new",
     "h_new is wrong at (0, 0): yours 1.43729, expected 0.873458; c_new right.\nYour numbers match a known "
     "mistake: the tanh of the new cell state is missing"),
    ("lstm_cell", "candidate = ops.tanh", "candidate = ops.sigmoid", "the candidate uses sigmoid"),
    ("lstm_cell", "forget_gate * c +", "forget_gate * h +", "the forget gate multiplies h instead of c"),
    ("lstm_cell", "return h_new, c_new", "return c_new, h_new", "the returns are swapped"),
    ("lstm_cell", "x @ kernel +", "x @ kernel.T +",
     "The shape (8, 5) in the error is kernel transposed: use kernel as it is, (5, 8)."),
    ("lstm_cell", "forget_gate * c +", "forget_gate.detach() * c +",
     "the outputs are right but the gradient with respect to kernel is wrong in the columns of the forget gate"),
    ("gru_cell", "update_gate * h + (1 - update_gate) * candidate", "(1 - update_gate) * h + update_gate * candidate",
     "the update gate works the other way round"),
    ("gru_cell", "reset_gate * recurrent[:, 2 * units:3 * units]",
     "(reset_gate * h) @ recurrent_kernel[:, 2 * units:3 * units] + bias[1][2 * units:3 * units]",
     "the reset gate is applied before the matrix product"),
    ("gru_cell", "h @ recurrent_kernel + bias[1]", "h @ recurrent_kernel", "the recurrent bias (row 1) is left out"),
    ("gru_cell", "x @ kernel + bias[0]", "x @ kernel + bias", "so add its rows, bias[0] and bias[1]"),
    ("bptt", "grad_hs[:, t] + grad_carried", "grad_hs[:, t]", "the gradient is not carried back through time"),
    ("bptt", " * (1 - hs[:, t] ** 2)", "", "the tanh's derivative is missing"),
    ("bptt", "previous_states[:, t].T", "hs[:, t].T",
     "grad_recurrent_kernel is wrong at (0, 1): yours 1.09838, expected -2.02761; "
     "grad_kernel, grad_bias, grad_h0 right"),
    ("bptt", "grad_pre_activation @ recurrent_kernel.T", "grad_pre_activation @ recurrent_kernel",
     "the recurrent kernel is not transposed on the way back"),
    ("bptt", "grad_pre_activation.sum(axis=0)", "grad_pre_activation", "da summed over the batch"),
    ("gradient_clipping", "max(global_norm, max_norm)", "global_norm", "scaled even when their norm is below max_norm"),
    ("gradient_clipping", "np.sqrt(sum(np.sum(g ** 2) for g in grads))", "sum(np.sum(g ** 2) for g in grads)",
     "the norm has no square root"),
    ("gradient_clipping", "return [g * scale for g in grads]", "for g in grads:\n        g *= scale\n    return grads",
     "the arrays in grads were modified in place"),
    ("gradient_clipping", "global_norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))",
     "global_norm = max(np.sqrt(np.sum(g ** 2)) for g in grads)", "case 1 of 7"),
    ("padding_mask", "ops.where(keep[:, None], candidate, h)", "candidate * keep[:, None]",
     "at padded steps the state becomes 0"),
    ("padding_mask", "ops.where(keep[:, None], candidate, h)", "ops.where(keep[:, None], h, candidate)",
     "the mask is inverted"),
    ("padding_mask", "mask[:, t]", "mask[t]", "the mask is read along the wrong axis"),
    ("padding_mask", "return h\n", "return h0\n", "masked_rnn, case 1 of 2"),
    ("broadcast_backward", "-grad * a / b ** 2", "grad * a / b ** 2",
     "grad_b disagrees with finite differences at (1,): yours -0.478427, numeric 0.478427.\nYour result matches a "
     "known mistake: dL/db has the wrong sign"),
    ("broadcast_backward", "-grad * a / b ** 2", "-grad / b ** 2", "dL/db is missing the factor a"),
    ("broadcast_backward", "keepdims=True", "keepdims=False", "summed but dropped: sum them with keepdims=True"),
    ("broadcast_backward", "unbroadcast(grad / b, a.shape), unbroadcast(-grad * a / b ** 2, b.shape)",
     "grad / b, -grad * a / b ** 2", "grad_b has shape (2, 3) but b has shape (3,): reduce it with unbroadcast"),
    ("engine_backward", "    output.grad = 1.0\n", "", "output.grad is never set to 1"),
    ("engine_backward", "parent.grad += local", "parent.grad = local", "overwritten (=), not accumulated (+=)"),
    ("engine_backward", "zip(node.parents, node.local_grads):\n            parent.grad",
     "dict(zip(node.parents, node.local_grads)).items():\n            parent.grad",
     "graph 2 of 8 (a node used twice by one operation, x * x + x): x.grad is 2.5, expected 4"),
]


@pytest.mark.parametrize("name, old, new, expected", MISTAKES,
                         ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_a_typical_mistake_fails_with_a_message_that_names_it(tmp_path, name, old, new, expected):
    passed, message = check(tmp_path, name, mutated(name, old, new))
    assert not passed
    assert message.startswith(f"{name}.py: {name}: not yet.\n")
    assert expected in message, message
    assert "Traceback" not in message


def test_every_exercise_has_at_least_two_mistakes_tested():
    tested = [name for name, *_ in MISTAKES]
    assert all(tested.count(name) >= 2 for name in NAMES)


ENGINE_SOLUTION = exercises.get("engine_backward").solution_source()
ENGINE_VALUE_CLASS = ENGINE_SOLUTION.split("def topological_order")[0]
ENGINE_BACKWARD = "def backward" + ENGINE_SOLUTION.split("def backward")[1]


def test_a_recursive_topological_sort_fails_on_the_deep_chain_with_a_recursion_message(tmp_path):
    source = ENGINE_VALUE_CLASS + textwrap.dedent("""
        def topological_order(output):
            order, seen = [], set()

            def visit(node):
                if node not in seen:
                    seen.add(node)
                    for parent in node.parents:
                        visit(parent)
                    order.append(node)
            visit(output)
            return order


        """) + ENGINE_BACKWARD
    passed, message = check(tmp_path, "engine_backward", source)
    assert not passed
    assert "backward raised RecursionError" in message and "explicit stack" in message


def test_a_breadth_first_walk_fails_on_the_uneven_diamond(tmp_path):
    source = ENGINE_VALUE_CLASS + textwrap.dedent("""
        def topological_order(output):
            return []


        def backward(output):
            output.grad = 1.0
            queue, seen = [output], {output}
            while queue:
                node = queue.pop(0)
                for parent, local in zip(node.parents, node.local_grads):
                    parent.grad += local * node.grad
                    if parent not in seen:
                        seen.add(parent)
                        queue.append(parent)
        """)
    passed, message = check(tmp_path, "engine_backward", source)
    assert not passed
    assert "graph 5 of 8 (a diamond with paths of different lengths" in message
    assert "breadth-first from the output, which is not topological" in message


def test_a_wrong_answer_that_is_no_known_mistake_still_says_where_and_which_gate(tmp_path):
    passed, message = check(tmp_path, "lstm_cell", mutated("lstm_cell", "forget_gate * c +", "0.5 * forget_gate * c +"))
    assert not passed
    assert "lstm_step, case 1 of 5 (batch 3, features 5, units 2, seed 0): h_new is wrong at" in message
    assert ("They match none of the known mistakes, but gate by gate (the other gates pinned open or shut by large "
            "biases) your forget gate differs from the reference while the input gate, candidate and output gate "
            "agree") in message
    update = "update_gate = ops.sigmoid(inputs[:, 0 * units:1 * units]"
    passed, message = check(tmp_path, "gru_cell", mutated("gru_cell", update, update + " * 2"))
    assert not passed
    assert "your update gate differs from the reference while the reset gate and candidate agree" in message


def test_a_wrong_rnn_step_that_is_no_known_mistake_is_located_by_output(tmp_path):
    passed, message = check(tmp_path, "rnn_cell", mutated("rnn_cell", "+ bias)", "+ 2 * bias)"))
    assert not passed
    assert message.endswith("They match none of the known mistakes: compare your code with the equations in the "
                            "docstring, one line at a time.")


# ---- the learner's file: each problem is one clear message ---------------------------------------
def test_a_syntax_error_names_the_line(tmp_path):
    passed, message = check(tmp_path, "rnn_cell", mutated("rnn_cell", "return ops.tanh(", "return ops.tanh(("))
    assert not passed
    assert "rnn_cell.py, line " in message and "return ops.tanh((x @ kernel" in message


def test_an_import_error_names_the_line(tmp_path):
    source = "import no_such_module\n" + exercises.get("rnn_cell").solution_source()
    passed, message = check(tmp_path, "rnn_cell", source)
    assert not passed
    assert ("running rnn_cell.py failed before any check: ModuleNotFoundError: No module named 'no_such_module'\n"
            "    rnn_cell.py, line 1, in <module>: import no_such_module") in message


def test_a_missing_function_is_named(tmp_path):
    source = exercises.get("rnn_cell").solution_source().replace("def rnn_step(", "def rnn_stepp(")
    passed, message = check(tmp_path, "rnn_cell", source)
    assert not passed
    assert "rnn_cell.py defines no function rnn_step" in message


def test_an_exception_inside_the_function_shows_the_learners_line(tmp_path):
    passed, message = check(tmp_path, "lstm_cell", mutated("lstm_cell", "x @ kernel +", "kernel @ x +"))
    assert not passed
    assert "lstm_step raised ShapeError: matmul: cannot multiply shapes (5, 8) and (3, 5)" in message
    assert "lstm_cell.py, line 12, in lstm_step: z = kernel @ x + h @ recurrent_kernel + bias" in message
    assert "Keras's layout: x (batch, features) @ kernel (features, 4*units)" in message


def test_a_numpy_result_and_a_wrong_shape_are_named(tmp_path):
    as_numpy = mutated("rnn_cell", "return ops.tanh(x @ kernel + h @ recurrent_kernel + bias)",
                       "return np.tanh((x @ kernel + h @ recurrent_kernel + bias).data)")
    passed, message = check(tmp_path, "rnn_cell", as_numpy)
    assert not passed and "rnn_step returned h_new as a numpy array; return a tinyseq Tensor" in message
    transposed = mutated("rnn_cell", "return ops.tanh(x @ kernel + h @ recurrent_kernel + bias)",
                         "return ops.tanh(x @ kernel + h @ recurrent_kernel + bias).T")
    passed, message = check(tmp_path, "rnn_cell", transposed)
    assert not passed and "rnn_step returned h_new of shape (2, 3); expected (3, 2) (batch, units)" in message
    single = mutated("lstm_cell", "return h_new, c_new", "return h_new")
    passed, message = check(tmp_path, "lstm_cell", single)
    assert not passed and "lstm_step returned a Tensor; return a tuple (h_new, c_new)" in message


def test_numpy_answers_of_the_wrong_form_or_shape_are_named(tmp_path):
    passed, message = check(tmp_path, "bptt", mutated("bptt", "grad_bias, grad_carried", "grad_bias"))
    assert not passed and ("returned a tuple of 3; return 4 arrays (grad_kernel, grad_recurrent_kernel, "
                           "grad_bias, grad_h0)") in message
    passed, message = check(tmp_path, "bptt", mutated("bptt", "grad_bias, grad_carried", "grad_bias[None], grad_carried"))
    assert not passed and "grad_bias has shape (1, 3); expected (3,) (sum over the batch)" in message
    passed, message = check(tmp_path, "gradient_clipping", mutated("gradient_clipping", "return [g * scale for g in grads]",
                                                                   "return [None for g in grads]"))
    assert not passed and "array 0 is None (a missing return?), not an array of numbers" in message


def test_an_answer_cut_from_the_graph_is_caught_by_its_gradients(tmp_path):
    source = mutated("rnn_cell", "return ops.tanh(x @ kernel + h @ recurrent_kernel + bias)",
                     "return tinyseq.tensor(np.tanh((x @ kernel + h @ recurrent_kernel + bias).data))")
    passed, message = check(tmp_path, "rnn_cell", source)
    assert not passed
    assert "the outputs are right but nothing is connected to the inputs in the graph" in message


def test_exit_in_the_learners_file_is_reported_not_obeyed(tmp_path):
    source = mutated("bptt", "    hs = rnn_forward(", "    raise SystemExit(3)\n    hs = rnn_forward(")
    passed, message = check(tmp_path, "bptt", source)
    assert not passed and "bptt raised SystemExit: 3" in message


def test_learner_files_do_not_leak_between_checks(tmp_path):
    (tmp_path / "wrong").mkdir()
    assert not check(tmp_path / "wrong", "rnn_cell", mutated("rnn_cell", "+ bias)", "- bias)"))[0]
    assert check(tmp_path, "rnn_cell", exercises.get("rnn_cell").solution_source())[0]
    assert not [name for name in sys.modules if name.startswith("tinyseq_learner")]


def test_the_exercise_comes_from_the_exercise_line_then_the_file_name(tmp_path):
    path = write(tmp_path, "rnn_cell", exercises.get("rnn_cell").solution_source(), filename="my_try.py")
    assert exercises.check_file(path)[0]
    path.write_text(path.read_text().replace('EXERCISE = "rnn_cell"\n', ""))
    with pytest.raises(KeyError, match="unknown exercise 'my_try'; the exercises are: engine_backward, "):
        exercises.check_file(path)


# ---- start -------------------------------------------------------------------------------------------
def test_start_writes_into_the_folder_and_never_overwrites_without_force(tmp_path):
    path = exercises.start("gru_cell", tmp_path / "work")
    assert path == tmp_path / "work" / "gru_cell.py"
    path.write_text("my work")
    with pytest.raises(FileExistsError, match="gru_cell.py already exists; pass --force to overwrite it"):
        exercises.start("gru_cell", tmp_path / "work")
    assert path.read_text() == "my work"
    exercises.start("gru_cell", tmp_path / "work", force=True)
    assert path.read_text() == exercises.get("gru_cell").stub()
    with pytest.raises(KeyError, match="unknown exercise 'lstm'; the exercises are: engine_backward, broadcast"):
        exercises.start("lstm", tmp_path)


# ---- the command -------------------------------------------------------------------------------------
def run_command(capsys, *words):
    status = cli.main(["exercise", *words])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_list_prints_name_tutorial_and_task(capsys):
    status, out, err = run_command(capsys, "list")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert [line.split()[0] for line in lines[:8]] == NAMES
    assert lines[5].split()[1] == "04_lstm" and "lstm_step(x, h, c, kernel, recurrent_kernel, bias)" in lines[5]


@pytest.mark.parametrize("words, expected", [
    (["start", "lstm"], "tinyseq exercise start: unknown exercise 'lstm'; the exercises are: engine_backward,"),
    (["check", "nowhere.py"], "tinyseq exercise check: no such file: nowhere.py; `tinyseq exercise start NAME` "
                              "writes one"),
    (["stat", "lstm_cell"], "tinyseq exercise: argument ACTION: invalid choice: 'stat'"),
])
def test_user_errors_are_one_line_and_exit_2(capsys, words, expected):
    status, out, err = run_command(capsys, *words)
    assert status == 2 and out == ""
    assert err.startswith(expected) and err.count("\n") == 1


def test_start_refuses_an_existing_file_in_one_line(capsys, tmp_path):
    assert run_command(capsys, "start", "bptt", "--dir", str(tmp_path))[0] == 0
    status, out, err = run_command(capsys, "start", "bptt", "--dir", str(tmp_path))
    assert status == 2 and err == (f"tinyseq exercise start: {tmp_path / 'bptt.py'} already exists; pass --force "
                                   f"to overwrite it with a fresh stub\n")
    assert run_command(capsys, "start", "bptt", "--dir", str(tmp_path), "--force")[0] == 0


def test_check_of_a_file_that_answers_no_exercise_is_one_line(capsys, tmp_path):
    path = write(tmp_path, "notes", "x = 1\n")
    status, out, err = run_command(capsys, "check", str(path))
    assert status == 2 and err.startswith(f"tinyseq exercise check: cannot tell which exercise {path} answers")
    assert err.count("\n") == 1


def test_from_a_fresh_folder_every_stub_fails_and_every_reference_passes(tmp_path):
    """The whole command, as a learner runs it, in a folder with nothing in it."""
    script = textwrap.dedent("""
        import sys
        from tinyseq import exercises
        from tinyseq.apps.cli import main
        statuses = []
        for name in exercises.EXERCISES:
            statuses.append(main(["exercise", "start", name]))
            statuses.append(main(["exercise", "check", name + ".py"]))
            with open(name + "_answer.py", "w") as answer:
                answer.write(exercises.get(name).solution_source())
            statuses.append(main(["exercise", "check", name + "_answer.py"]))
        print(statuses)
        """)
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.stderr == ""
    assert result.stdout.splitlines()[-1] == str([0, 1, 0] * len(NAMES))
    assert result.stdout.count("passed: ") == len(NAMES) and result.stdout.count("not yet.") == len(NAMES)


def test_the_docs_page_lists_every_exercise_with_its_tutorial():
    page = (Path(__file__).resolve().parents[1] / "docs" / "exercises.md").read_text()
    for name, exercise in exercises.EXERCISES.items():
        row = next(line for line in page.splitlines() if line.startswith(f"| `{name}` |"))
        assert f"(tutorials/{exercise.tutorial.replace('_', '-')}.md)" in row
