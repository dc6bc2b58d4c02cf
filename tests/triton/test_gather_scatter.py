"""Row and element gathers, scatters with every reduction, message passing and segment reductions through
the Triton kernels, against eager ATen (including the combine with the destination's old value)."""
import pytest
import torch

from torch_ember.region_spec import Reduction, RegionKind, RegionSpec, SegmentBounds, SourceOp
from torch_ember.runtime.adapters import prepass_args

GEN = torch.Generator().manual_seed(0)
X = torch.randn(12, 10, generator=GEN)
INDEX = torch.tensor([3, 0, 3, 11, 7, 3, 0, 5])   # repeats, and rows no index names


@pytest.mark.parametrize("op,dtype", [("index_select", torch.float32), ("index", torch.int64),
                                      ("index", torch.float16)])
def test_gather_rows(check_region, op, dtype):
    spec = RegionSpec(RegionKind.GATHER_ROWS, "x", op=SourceOp(op))
    check_region(spec, [(X * 10).to(dtype), INDEX if op == "index_select" else INDEX.view(2, 4)])


def test_embedding_and_its_backward_skip_padding(check_region):
    check_region(RegionSpec(RegionKind.EMBEDDING, "w", padding_idx=3), [X, INDEX.view(4, 2)])
    grad = torch.randn(4, 2, 10, generator=GEN)
    check_region(RegionSpec(RegionKind.EMBEDDING_BACKWARD, "w", padding_idx=3, num_weights=12), [grad, INDEX.view(4, 2)])


SCATTERS = [  # op, reduce, include_self, alpha
    ("index_add", "sum", True, 0.5), ("index_put", "sum", True, 1.0), ("index_reduce", "amax", False, 1.0),
    ("index_reduce", "amin", True, 1.0), ("index_reduce", "mean", True, 1.0), ("index_reduce", "mean", False, 1.0),
    ("index_reduce", "prod", True, 1.0), ("index_reduce", "prod", False, 1.0), ("scatter_reduce", "amax", True, 1.0),
]


@pytest.mark.parametrize("op,reduce,include_self,alpha", SCATTERS)
def test_scatter_rows(check_region, op, reduce, include_self, alpha):
    spec = RegionSpec(RegionKind.SCATTER_ROWS, "x", op=SourceOp(op), reduce=Reduction.parse(reduce), include_self=include_self, alpha=alpha)
    src = torch.randn(INDEX.numel(), 10, generator=GEN)
    check_region(spec, [torch.randn(12, 10, generator=GEN), INDEX, src])


@pytest.mark.parametrize("reduce,include_self,weighted", [("sum", True, True), ("mean", False, False),
                                                          ("amax", False, True), ("prod", True, True)])
def test_message_passing(check_region, reduce, include_self, weighted):
    spec = RegionSpec(RegionKind.GATHER_SCATTER, "x", op=SourceOp.INDEX_ADD, reduce=Reduction.parse(reduce), include_self=include_self)
    dst = INDEX.flip(0)
    args = [X, INDEX, dst, torch.zeros(12, 10)] + ([torch.rand(INDEX.numel(), generator=GEN)] if weighted else [])
    check_region(spec, args)


def test_gather_elements_and_the_row_broadcast_special_case(check_region):
    j = torch.randint(0, 10, (12, 4), generator=GEN)
    check_region(RegionSpec(RegionKind.GATHER_ELEMENTS, "x", axis=1, op=SourceOp.GATHER), [X, j])
    broadcast = INDEX.view(-1, 1).expand(-1, 10)   # stride 0: specialized to a row gather
    check_region(RegionSpec(RegionKind.GATHER_ELEMENTS, "x", axis=0, op=SourceOp.GATHER), [X, broadcast])


@pytest.mark.parametrize("op,reduce,include_self", [("scatter_add", "sum", True), ("scatter_reduce", "mean", True),
                                                    ("scatter_reduce", "amin", False), ("scatter_reduce", "prod", False)])
def test_scatter_elements(check_region, op, reduce, include_self):
    j = torch.randint(0, 10, (3, 4, 6), generator=GEN)
    spec = RegionSpec(RegionKind.SCATTER_ELEMENTS, "x", axis=1, op=SourceOp(op), reduce=Reduction.parse(reduce), include_self=include_self)
    check_region(spec, [torch.randn(3, 10, 6, generator=GEN), j, torch.randn(3, 4, 6, generator=GEN)])


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")   # mean of an empty segment: 0/0
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min", "prod"])
def test_segment_reduce_with_an_empty_segment(check_region, reduce):
    data = torch.randn(9, 3, 2, generator=GEN)
    check_region(RegionSpec(RegionKind.SEGMENT_REDUCE, "x", reduce=Reduction.parse(reduce), bounds=SegmentBounds.LENGTHS),
                 [data, torch.tensor([2, 0, 4, 3])])


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min", "prod"])
def test_segment_reduce_backward_with_an_empty_segment(check_region, reduce):
    """Ties and zeros (data drawn from 0, 1, 2), a NaN, an infinity, and negative gradients; max, min and
    prod first run a region of their own over the segments."""
    data, lengths = torch.randint(0, 3, (9, 3, 2), generator=GEN).float(), torch.tensor([2, 0, 4, 3])
    data[3, 1, 0], data[4, 2, 1] = float("nan"), float("inf")
    output = torch.segment_reduce(data, reduce, lengths=lengths)
    args = [torch.randn(output.shape, generator=GEN), output, data, lengths]
    spec = RegionSpec(RegionKind.SEGMENT_REDUCE_BACKWARD, "x", reduce=Reduction.parse(reduce), bounds=SegmentBounds.LENGTHS)
    if spec.prepass() is not None:
        args += check_region(spec.prepass(), prepass_args(args))
    check_region(spec, args)


def test_a_bad_index_raises_what_eager_raises():
    from torch_ember.triton import run_region

    with pytest.raises(IndexError, match="out of bounds"):
        run_region(RegionSpec(RegionKind.GATHER_ROWS, "x", op=SourceOp.INDEX_SELECT), [X, torch.tensor([0, 12])])


def test_cpu_tensors_without_the_interpreter_are_refused(monkeypatch):
    from torch_ember.triton import run_region

    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(RuntimeError, match="CUDA tensors"):
        run_region(RegionSpec(RegionKind.GATHER_ROWS, "x", op=SourceOp.INDEX_SELECT), [X, INDEX])
