"""The plots draw exactly the computed points: checked through the artists on the axes."""

import matplotlib
import pytest
from scipy import stats
from matplotlib.figure import Figure

from budgetsearch.analysis import (aggregate_seeds, frontier_figure, frontier_table, load_trials, plot_frontier,
                                   substitute_colors)
from budgetsearch.analysis._plot import FADED
from budgetsearch.errors import ConfigError

matplotlib.use("Agg")


@pytest.fixture
def points(study):
    return frontier_table(aggregate_seeds(load_trials(study)))


def _markers(ax):
    """(x, y, alpha, xerr half-width) of every drawn error-bar point."""
    drawn = []
    for container in ax.containers:
        line, _, bars = container.lines
        segments = bars[0].get_segments()
        for x, y, segment in zip(line.get_xdata(), line.get_ydata(), segments):
            drawn.append((float(x), float(y), line.get_alpha(), float(segment[1][0] - x)))
    return drawn


def test_params_plot_draws_the_means_spread_front_and_faded_points(points):
    ax = Figure().subplots()
    assert plot_frontier(points, ax, cost="params", reference=4.5) is ax
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "top-1 validation error (%)" and ax.get_ylabel() == "parameters"
    drawn = {(x, y): (alpha, spread) for x, y, alpha, spread in _markers(ax)}
    # Hand numbers (synthetic_study.POINTS): means, and bars of the 95% t interval t(0.975, n-1)·s/√n over seeds.
    assert drawn[(9.0, 96_000)] == (1.0, pytest.approx(stats.t.ppf(0.975, 2) * 1.0 / 3 ** 0.5))
    assert drawn[(11.0, 99_000)] == (FADED, pytest.approx(stats.t.ppf(0.975, 2)))  # s = √3, n = 3; dominated: faded
    assert drawn[(9.25, 150_000)][0] == FADED
    assert len(drawn) == 6
    lines = {line.get_label(): line for line in ax.get_lines()}
    colors = substitute_colors(["acdc", "shuffle", "tucker"])
    assert list(lines["tucker"].get_xdata()) == [9.0, 6.5]  # joined in order of size
    assert matplotlib.colors.same_color(lines["tucker"].get_color(), colors["tucker"])
    front = lines["frontier (all substitutes)"]
    assert list(zip(front.get_xdata(), front.get_ydata())) == [(6.5, 190_000), (7.5, 180_000), (9.0, 96_000),
                                                               (12.0, 80_000)]
    assert list(lines["dense teacher (4.50 %)"].get_xdata()) == [4.5, 4.5]


def test_mult_adds_plot_has_its_own_front_and_no_reference_by_default(points):
    ax = plot_frontier(points, Figure().subplots(), cost="mult_adds")
    assert ax.get_ylabel() == "mult-adds"
    faded = [(x, y) for x, y, alpha, _ in _markers(ax) if alpha == FADED]
    assert faded == [(11.0, 20_000_000)]
    assert not any("teacher" in line.get_label() for line in ax.get_lines())


def test_test_error_metric_labels_the_axis(points):
    ax = plot_frontier(frontier_table(aggregate_seeds_from(points), "test_error"), Figure().subplots(),
                       metric="test_error")
    assert ax.get_xlabel() == "top-1 test error (%)"


def aggregate_seeds_from(points):
    return points.drop(columns=[c for c in points.columns if c.startswith("on_")])


def test_bad_cost_or_table_is_an_error(points):
    with pytest.raises(ConfigError, match="cost"):
        plot_frontier(points, Figure().subplots(), cost="flops")
    with pytest.raises(ConfigError, match="on_front_params"):
        plot_frontier(points.drop(columns=["on_front_params"]), Figure().subplots())


def test_figure_saves_a_png(points, tmp_path):
    figure = frontier_figure(points, "params", title="synthetic")
    figure.savefig(tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert figure.axes[0].get_title() == "synthetic"


def test_sizes_a_few_percent_apart_do_not_fill_the_axis(points):
    close = points[points["budget"] == "0.1M"].assign(params=[96_000, 97_000, 98_000])
    ax = plot_frontier(close, Figure().subplots())
    low, high = ax.get_ylim()
    assert high / low == pytest.approx(2.0) and low < 96_000 and high > 98_000
    wide = plot_frontier(points, Figure().subplots())
    assert wide.get_ylim()[0] < 80_000 and wide.get_ylim()[1] / wide.get_ylim()[0] < 3  # data range 80k-190k kept


def test_a_substitute_is_joined_in_budget_order_when_sizes_tie(points):
    tied = points.assign(mult_adds=30_000_000).iloc[::-1]  # every point the same cost, rows reversed
    ax = plot_frontier(tied, Figure().subplots(), cost="mult_adds")
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["tucker"].get_xdata()) == [9.0, 6.5]  # 0.1M, then 0.2M
    assert list(lines["acdc"].get_xdata()) == [11.0, 7.5]


def test_each_registered_substitute_keeps_one_colour_whatever_the_study_holds():
    from budgetsearch.substitutes import list_substitutes

    everything = substitute_colors()
    assert set(list_substitutes()) <= set(everything)
    assert len({everything[name] for name in list_substitutes()}) == len(list_substitutes())  # all distinct
    for study_substitutes in (["shuffle"], ["acdc", "shuffle"], ["generic", "shuffle", "tucker", "cp"]):
        assert substitute_colors(study_substitutes)["shuffle"] == everything["shuffle"]
    assert substitute_colors(["my-plugin"])["my-plugin"] == substitute_colors(["a", "my-plugin"])["my-plugin"]


def test_cells_without_a_point_are_named_in_the_legend(points):
    missing = {"shuffle": "0.2M failed", "hashed": "0.1M pruned, 0.2M skipped"}
    ax = plot_frontier(points, Figure().subplots(), missing=missing)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "shuffle (no point: 0.2M failed)" in labels  # drawn, with the cells it lacks
    assert "hashed: no point (0.1M pruned, 0.2M skipped)" in labels  # nothing drawn, still in the legend
    assert "tucker" in labels


def test_title_names_the_model_and_the_data_set(study):
    from budgetsearch.analysis import study_title

    assert study_title("synthetic", load_trials(study)) == "synthetic: wrn-16-2 on digits"
