"""What a user reads in ``torch_ember.report()``: one row per region and device, regions named from the
model's modules and parameters (backward ones by the parameter whose gradient they make), lookups defined
one way for every op, a compact table within 120 columns with a glossary, and the rows as data."""
import torch
import torch.nn as nn

import torch_ember
from torch_ember.runtime.stats import GLOSSARY, WIDTH, Report, RegionRecord


class TwoTables(nn.Module):
    def __init__(self):
        super().__init__()
        self.tables = nn.ModuleList([nn.EmbeddingBag(50, 8, mode="sum") for _ in range(2)])
        self.head = nn.Linear(16, 1)

    def forward(self, indices, offsets):
        return self.head(torch.cat([t(indices, offsets) for t in self.tables], 1))


def _run(model, options, *inputs, backward=True):
    torch._dynamo.reset()
    with torch_ember.Session() as session:
        out = torch.compile(model, backend="ember", options={"rest": "eager", **options})(*inputs)
        if backward:
            out.sum().backward()
    return session.stats.report()


def test_regions_are_named_from_the_model_forward_and_backward_with_lookups_per_index():
    torch.manual_seed(0)
    indices, offsets = torch.randint(0, 50, (20,)), torch.arange(0, 20, 5)
    report = _run(TwoTables(), {}, indices, offsets)
    rows = {(r["region"], r["op"]): r for r in report.records()}
    assert set(rows) == {("tables.{0..1}.weight", "batched_2x_embedding_bag_sum"),
                         ("tables.0.weight", "embedding_bag_backward_sum"),
                         ("tables.1.weight", "embedding_bag_backward_sum")}
    assert rows[("tables.{0..1}.weight", "batched_2x_embedding_bag_sum")]["lookups"] == 2 * 20
    assert rows[("tables.0.weight", "embedding_bag_backward_sum")]["lookups"] == 20    # one per index, not per bag


def test_one_row_per_region_and_device():
    torch.manual_seed(0)
    bag = nn.EmbeddingBag(40, 4, mode="sum")
    indices, offsets = torch.randint(0, 40, (12,)), torch.arange(0, 12, 3)
    with torch_ember.Session() as session:
        for device in ("edge", "server"):
            torch._dynamo.reset()
            torch.compile(bag, backend="ember", options={"rest": "eager", "device": device})(indices, offsets)
    report = session.stats.report()
    assert sorted((r.name, r.device, r.launches) for r in report.regions) == \
        [("embedding_bag_sum:weight", "edge", 1), ("embedding_bag_sum:weight", "server", 1)]
    assert report.total().device == "edge, server"
    assert " edge " in str(report) and " server " in str(report)


def test_lookups_count_index_elements_for_element_gathers_and_scatters_too():
    torch.manual_seed(0)
    x, index = torch.randn(6, 5, requires_grad=True), torch.randint(0, 5, (6, 3))

    def gather(x, index):
        return torch.gather(x, 1, index)
    report = _run(gather, {}, x, index)
    assert {r.kind: r.lookups for r in report.regions} == {"gather_elements": 18, "scatter_elements": 18}


def test_the_compact_report_fits_120_columns_and_every_column_is_in_the_glossary():
    long = RegionRecord("batched_26x_embedding_bag_backward_sum:a_very_long_module_path.with.many.levels.tables."
                        "{0..25}.weight", "batched", "server", 256.0, launches=180, detailed_launches=153,
                        lookups=10**9, modeled_seconds=1.2345, modeled_seconds_margin=0.001, dram_bytes=10**11,
                        bound="memory bandwidth")
    report = Report((long,))
    lines = str(report).splitlines()
    assert max(map(len, lines)) <= WIDTH
    assert "180 (153)" in lines[2] and "±" in lines[2]
    header = lines[0].split("  ")
    named = {name for name, _ in GLOSSARY}
    assert {h.strip() for h in header if h.strip()} <= named
    assert {h.strip() for h in report.wide().splitlines()[0].split("  ") if h.strip()} - named <= {
        "DRAM GB/s (peak)", "hit rate"}
    assert all(f"{name}: " in Report.describe() for name in named)


def test_unrelated_compiled_functions_whose_arguments_share_a_name_get_rows_of_their_own():
    def lookup(w, i):
        return torch.nn.functional.embedding(i, w)

    def other(w, i):
        return torch.nn.functional.embedding(i, w)
    torch._dynamo.reset()
    with torch_ember.Session() as session:
        torch.compile(lookup, backend="ember", options={"rest": "eager"})(torch.randn(5, 3), torch.tensor([1]))
        torch.compile(other, backend="ember", options={"rest": "eager"})(torch.randn(5, 3), torch.tensor([1, 2]))
    rows = sorted((r["region"], r["lookups"]) for r in session.stats.report().records())
    assert rows == [("lookup.w", 1), ("other.w", 2)]


def test_the_readme_glossary_is_the_report_s_own():
    from pathlib import Path
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for name, meaning in GLOSSARY:
        assert f"| `{name}` | {meaning} |" in readme, name
