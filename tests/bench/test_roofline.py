"""The roofline PNG: each placed region numbered on the plot and named in the key beside it, a legend of only
the bounds and ops drawn, and several ticks on each axis even over a narrow range."""
from matplotlib.figure import Figure

import dae_emulator
from torch_ember.bench import plot_roofline
from torch_ember.runtime.stats import RegionRecord


def _region(name, bound, ops, dram, seconds):
    return RegionRecord(name, "embedding_bag", "server", 256.0, launches=1, execute_ops=ops, dram_bytes=dram,
                        modeled_seconds=seconds, bound=bound)


def test_points_are_numbered_and_named_and_the_legend_shows_only_what_is_drawn(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(Figure, "savefig", lambda self, path, **kw: drawn.append(self))
    regions = [_region("embedding_bag_sum:tables.0.weight", "memory latency", 1e4, 2e5, 1e-5),
               _region("embedding_bag_backward_sum:tables.0.weight", "memory latency", 2e4, 3e5, 2e-5),
               _region("gather_rows:moe.w_out", "memory bandwidth", 0, 0, 1e-6)]      # no DRAM: not placed
    plot_roofline(regions, dae_emulator.preset("server"), str(tmp_path / "roof.png"))
    (figure,) = drawn
    ax = figure.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["bound: memory latency", "embedding_bag_backward_sum", "embedding_bag_sum"]
    assert sorted(t.get_text() for t in ax.texts if t.get_text().isdigit()) == ["1", "2"]
    key = "\n".join(t.get_text() for t in figure.texts)
    assert "1: tables.0.weight (embedding_bag_sum, server)" in key and "moe.w_out" not in key
    assert "1 region(s) without DRAM traffic not shown" in ax.get_title()
    figure.canvas.draw()
    low, high = ax.get_ylim()
    assert sum(low <= tick <= high for tick in ax.get_yticks()) >= 3
