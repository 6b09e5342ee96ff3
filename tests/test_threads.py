"""tinyseq.threads: the thread count, the helper thread, single-threaded BLAS, and fused kernels
whose numbers do not depend on any of them."""

import threading

import numpy as np
import pytest
import threadpoolctl

import tinyseq as ts
from tinyseq import threads
from tinyseq.layers import GRU, LSTM, Dense, Embedding, SimpleRNN
from tinyseq.models import Sequential


@pytest.fixture(autouse=True)
def default_threads():
    yield
    threads.set_num_threads(None)


def blas_threads():
    return [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]


def test_the_default_is_the_available_cores_and_none_restores_it():
    assert threads.get_num_threads() == threads.available_cores() >= 1
    threads.set_num_threads(1)
    assert threads.get_num_threads() == 1
    threads.set_num_threads(None)
    assert threads.get_num_threads() == threads.available_cores()


@pytest.mark.parametrize("count, error, message", [
    (0, ValueError, "set_num_threads: the count must be ≥ 1, got 0"),
    (-2, ValueError, "set_num_threads: the count must be ≥ 1, got -2"),
    (1.5, TypeError, "set_num_threads: the count must be a whole number ≥ 1 or None, got 1.5"),
    (True, TypeError, "set_num_threads: the count must be a whole number ≥ 1 or None, got True"),
    ("2", TypeError, "set_num_threads: the count must be a whole number ≥ 1 or None, got '2'"),
])
def test_a_bad_thread_count_is_refused_naming_it(count, error, message):
    with pytest.raises(error) as raised:
        threads.set_num_threads(count)
    assert str(raised.value) == message
    assert threads.get_num_threads() == threads.available_cores()  # unchanged


def test_background_work_runs_on_the_helper_in_order_and_returns_its_result():
    threads.set_num_threads(2)
    ran = []
    work = [threads.in_background(lambda k: ran.append((k, threading.current_thread().name)) or k * k, k)
            for k in range(5)]
    work[-1].future.result(timeout=10)  # let the helper do them all (result() could take one over)
    assert [w.result() for w in work] == [0, 1, 4, 9, 16]
    assert [k for k, _ in ran] == [0, 1, 2, 3, 4]
    assert {name for _, name in ran} == {"tinyseq-helper_0"}


def test_background_work_raises_its_error_when_waited_for():
    threads.set_num_threads(2)

    def fail():
        raise ArithmeticError("boom")
    work = threads.in_background(fail)
    with pytest.raises(ArithmeticError, match="boom"):
        work.result()


def test_work_the_helper_has_not_started_runs_on_the_waiting_thread():
    threads.set_num_threads(2)
    release = threading.Event()
    blocker = threads.in_background(release.wait)  # keeps the helper busy
    where = []
    queued = threads.in_background(lambda: where.append(threading.current_thread()) or "done")
    assert queued.result() == "done"
    assert where == [threading.current_thread()]  # not left waiting behind the blocker
    release.set()
    blocker.result()
    assert queued.result() == "done" and len(where) == 1  # ran once


def test_with_one_thread_the_work_runs_at_once_on_the_calling_thread():
    threads.set_num_threads(1)
    where = []
    work = threads.in_background(lambda: where.append(threading.current_thread()) or 7)
    assert where == [threading.current_thread()]
    assert work.result() == 7


def test_single_threaded_blas_holds_inside_and_restores_afterwards():
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        with threads.single_threaded_blas():
            assert set(blas_threads()) == {1}
            with threads.single_threaded_blas():
                assert set(blas_threads()) == {1}
            assert set(blas_threads()) == {1}
        assert blas_threads() == before


def test_training_and_prediction_leave_the_blas_threads_as_they_were():
    model = Sequential([Embedding(20, 4), LSTM(3), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    x, y = np.random.default_rng(0).integers(0, 20, (16, 6)), np.arange(16) % 2
    seen = []

    class Probe(ts.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(blas_threads())

    inside = []
    dense_call = model.layers[-1].call
    model.layers[-1].call = lambda *args, **kwargs: inside.append(blas_threads()) or dense_call(*args, **kwargs)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[Probe()])
        model.predict(x, batch_size=16, verbose=0)
        assert blas_threads() == before
    assert seen == [before, before]  # callbacks run outside the batch's own computation
    assert inside == [[1]] * 3  # two training batches, one predicted


@pytest.mark.parametrize("cell", [LSTM, GRU, SimpleRNN])
@pytest.mark.parametrize("masked", [False, True])
def test_fused_numbers_do_not_depend_on_the_thread_count(cell, masked):
    """The helper folds the same chunks in the same order: every output and gradient is equal to the bit."""
    rng = np.random.default_rng(3)
    ids = rng.integers(1, 30, (12, 40))
    if masked:
        ids[:, :rng.integers(0, 40)] = 0
        ids[np.arange(12) % 3 == 0, :25] = 0

    def run(count):
        threads.set_num_threads(count)
        ts.random.seed(0)
        model = Sequential([Embedding(30, 5, mask_zero=masked, dtype="float64"),
                            cell(7, dropout=0.2, recurrent_dropout=0.1, dtype="float64"),
                            Dense(1, dtype="float64")])
        output = model(ids, training=True)
        (output * output).sum().backward()
        return [output.data] + [p.grad for p in model.parameters()]

    for one, two in zip(run(1), run(2)):
        np.testing.assert_array_equal(one, two)


def test_clear_session_sets_the_thread_count_back():
    threads.set_num_threads(1)
    ts.clear_session(0)
    assert threads.get_num_threads() == threads.available_cores()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_helper_of_its_own():
    import os
    threads.set_num_threads(2)
    threads.in_background(int).result()  # the parent's helper is running
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its work must run on a helper of its own
        work = threads.in_background(lambda: threading.current_thread().name)
        name = work.future.result(timeout=10)  # wait for the helper itself (result() could run it here)
        os.write(writer, name.encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    assert os.read(reader, 100).decode().startswith("tinyseq-helper")


def test_the_threads_flag_sets_the_thread_count_and_refuses_a_bad_one(capsys):
    from tinyseq.apps.cli import main
    assert main(["--threads", "1", "demo", "--steps", "1"]) == 0
    assert threads.get_num_threads() == 1
    assert main(["--threads", "0", "demo"]) == 2
    assert capsys.readouterr().err.endswith(
        "tinyseq: argument --threads: must be at least 1, got 0 (see `tinyseq --help`)\n")


def test_the_threads_flag_after_the_command_is_refused_saying_where_it_goes(capsys):
    from tinyseq.apps.cli import main
    assert main(["demo", "--threads", "1"]) == 2
    assert capsys.readouterr().err == (
        "tinyseq demo: unrecognized arguments: --threads 1; put --threads before the command: "
        "`tinyseq --threads N demo ...` (see `tinyseq demo --help`)\n")
