"""The README's demo (`tinyseq demo`) really trains, and repeats exactly under a seed."""

import numpy as np
import pytest

from tinyseq.apps.cli import main
from tinyseq.apps.demo import TARGETS, train_xor


def test_demo_learns_xor_and_is_deterministic():
    first = train_xor(report=None)
    again = train_xor(report=None)
    assert first.final_loss < 0.01 < 0.2 < first.first_loss
    np.testing.assert_array_equal((first.predictions > 0.5), TARGETS[:, 0] == 1)
    np.testing.assert_array_equal(first.predictions, again.predictions)


def test_demo_command_prints_progress_and_predictions(capsys):
    assert main(["demo", "--steps", "200"]) == 0
    out = capsys.readouterr().out
    assert "step  200  mean squared error" in out and "xor(1, 1) = 0" in out


def test_demo_refuses_zero_steps():
    with pytest.raises(ValueError, match="train_xor: steps must be at least 1, got 0"):
        train_xor(steps=0, report=None)
