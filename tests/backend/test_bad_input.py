"""Bad inputs to a compiled model: the same exception type eager PyTorch raises, a message that names the
table and the bad value, and a compiled model that still works afterwards.

Index and offset mistakes are caught by the region's adapter at launch. A float index tensor is caught
earlier, while Dynamo traces the lookup with fake tensors: the error is Dynamo's ``TorchRuntimeError``, a
``RuntimeError`` as eager's is, and its message quotes the meta function's (the dtype, not the table).
"""
from __future__ import annotations

import re

import pytest
import torch

import torch_ember

ROWS, WIDTH = 10, 4
TABLE = ("emb.weight", f"({ROWS}, {WIDTH})")     # the user's name for the table, or its shape


class BagModel(torch.nn.Module):
    def __init__(self, mode: str):
        super().__init__()
        self.emb = torch.nn.EmbeddingBag(ROWS, WIDTH, mode=mode)

    def forward(self, indices, offsets):
        return self.emb(indices, offsets)


class EmbeddingModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(ROWS, WIDTH)

    def forward(self, indices):
        return self.emb(indices)


_MODELS: dict[str, tuple[torch.nn.Module, object]] = {}


def model(name: str):
    """(eager model, its compiled twin), one per name for the whole module: every bad call and every valid
    call after it goes to the same compiled model."""
    if name not in _MODELS:
        eager = EmbeddingModel() if name == "embedding" else BagModel(name)
        _MODELS[name] = (eager, torch.compile(eager, backend="ember", options={"rest": "eager"}, dynamic=True))
    return _MODELS[name]


def tensor(values, dtype=torch.int64):
    return torch.tensor(values, dtype=dtype)


def eager_error(fn, *args) -> Exception | None:
    try:
        fn(*args)
    except Exception as e:     # noqa: BLE001 - whatever eager raises is what the compiled model must raise
        return e
    return None


def assert_still_works(name: str, *args) -> None:
    eager, compiled = model(name)
    torch_ember.reset()
    torch.testing.assert_close(compiled(*args), eager(*args), rtol=1e-5, atol=1e-5)
    assert torch_ember.report().regions, "the valid call ran no region"


BAG_VALID = (tensor([1, 2, 3, 4, 5]), tensor([0, 2]))
BAG_CASES = {                      # name: (indices, offsets, the bad value the message must quote)
    "index_out_of_range": (tensor([1, 23, 2]), tensor([0, 1]), "23"),
    "negative_index": (tensor([1, -7, 2]), tensor([0, 1]), "-7"),
    "offsets_decrease": (tensor([1, 2, 3, 4, 5]), tensor([0, 3, 2]), "2"),
    "offsets_past_indices": (tensor([1, 2, 3, 4, 5]), tensor([0, 9]), "9"),
    "offsets_do_not_start_at_0": (tensor([1, 2, 3, 4, 5]), tensor([3, 4]), "3"),
    "int32_index_out_of_range": (tensor([1, 2, 13], torch.int32), tensor([0, 1], torch.int32), "13"),
}


def assert_names_table_and_value(message: str, value: str) -> None:
    assert any(t in message for t in TABLE), f"the message names neither {TABLE[0]} nor its shape: {message}"
    assert re.search(rf"(?<![\w-]){re.escape(value)}(?!\w)", message), f"the message lacks {value}: {message}"


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["sum", "max"])
@pytest.mark.parametrize("case", list(BAG_CASES))
def test_embedding_bag_bad_input(mode, case):
    indices, offsets, value = BAG_CASES[case]
    eager, compiled = model(mode)
    expected = eager_error(eager, indices, offsets)
    if expected is None:
        # Eager's max-mode CPU kernel accepts decreasing offsets and returns rows for the bags it makes of
        # them; the compiled model rejects them as eager's other modes do.
        assert (mode, case) == ("max", "offsets_decrease")
        expected = RuntimeError()
    with pytest.raises(type(expected)) as info:
        compiled(indices, offsets)
    assert_names_table_and_value(str(info.value), value)
    assert_still_works(mode, *BAG_VALID)


EMBEDDING_VALID = (tensor([[1, 2], [9, 0]]),)
EMBEDDING_CASES = {
    "index_out_of_range": (tensor([[1, 23], [2, 3]]), "23"),
    "negative_index": (tensor([1, -7, 2]), "-7"),
    "int32_index_out_of_range": (tensor([1, 2, 13], torch.int32), "13"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(EMBEDDING_CASES))
def test_embedding_bad_input(case):
    indices, value = EMBEDDING_CASES[case]
    eager, compiled = model("embedding")
    expected = eager_error(eager, indices)
    with pytest.raises(type(expected)) as info:
        compiled(indices)
    assert_names_table_and_value(str(info.value), value)
    assert_still_works("embedding", *EMBEDDING_VALID)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sum", "embedding"])
def test_float_indices(name):
    """Caught at compile time by the op's meta function, wrapped by Dynamo: still a subclass of eager's
    type (``RuntimeError``), and the message still says what was wrong with the indices."""
    eager, compiled = model(name)
    args = (tensor([1.0, 2.0], torch.float32),) + ((tensor([0, 1]),) if name != "embedding" else ())
    expected = eager_error(eager, *args)
    with pytest.raises(type(expected)) as info:
        compiled(*args)
    assert isinstance(info.value, type(expected))
    message = str(info.value).lower()
    assert "indices" in message and "float" in message, message
    assert_still_works(name, *(BAG_VALID if name != "embedding" else EMBEDDING_VALID))
