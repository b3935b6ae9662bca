"""Figures: sizes a person can look at, legends that name every line, plain tick labels."""

import struct

import numpy as np
import pytest

from bmsample.evaluation import Evaluation
from bmsample.tools import plots


def png_size(path):
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


@pytest.mark.parametrize("shape", [(28, 28), (8, 8)])
def test_sample_grids_are_drawn_at_a_viewable_size(tmp_path, shape):
    states = (np.random.default_rng(0).random((100, shape[0] * shape[1])) < 0.3).astype(float)
    plots.write_sample_grid(tmp_path / "grid.png", states, shape)
    width, height = png_size(tmp_path / "grid.png")
    assert 800 <= width <= 1000 and width == height  # was 2x: 182 x 182 pixels for 100 MNIST digits


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures the plot functions would save."""
    saved = []
    monkeypatch.setattr(plots, "_save", lambda fig, path, plt: saved.append(fig))
    return saved


def test_errors_figure_has_a_legend_entry_for_every_line(figures, tmp_path):
    rows = [{"t": t, "mean_rmse": 0.1 / (t + 1), "covariance_rmse": 0.01, "aats": 0.5, "aa_truth": 1.0, "aa_syn": 0.0}
            for t in (0, 1, 10)]
    plots.plot_errors_vs_time(tmp_path / "e.png", Evaluation(10, rows, 100))
    (fig,) = figures
    labels = [text.get_text() for text in fig.axes[-1].get_legend().get_texts()]
    assert labels == ["means rms error", "connected correlations rms error", "k = 10", "AATS", "AA_truth", "AA_syn"]


def test_training_curves_label_ticks_without_an_offset(figures, tmp_path):
    records = [{"update": u, "epoch": 1, "seconds": u, "weight_matrix_norm": 29.17 + 1e-4 * u} for u in (1, 2, 5, 10)]
    plots.plot_training_curves(tmp_path / "t.png", records)
    (fig,) = figures
    fig.canvas.draw()
    axis = fig.axes[0].yaxis
    assert axis.get_major_formatter().get_offset() == ""
    assert all("29.1" in tick.get_text() for tick in axis.get_ticklabels() if tick.get_text())
