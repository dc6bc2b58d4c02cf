"""Rows wider than the device's scratchpad holds travel in pieces on their own: the backend recompiles the
region with the largest ``buffer_bytes`` that fits, unless the user chose ``buffer_bytes`` themselves."""
import pytest
import torch
import torch.nn as nn

pytestmark = pytest.mark.slow

WIDE = 8192          # fp32: 32 KiB a row, twice the edge preset's 16 KiB scratchpad


def test_rows_too_wide_for_the_scratchpad_are_pushed_in_pieces_and_train_like_eager():
    torch.manual_seed(0)
    eager = nn.EmbeddingBag(20, WIDE, mode="sum")
    ember = nn.EmbeddingBag(20, WIDE, mode="sum")
    ember.load_state_dict(eager.state_dict())
    compiled = torch.compile(ember, backend="ember", options={"device": "edge", "rest": "eager"})
    for offsets in (torch.tensor([0, 5, 9]), torch.tensor([0, 1, 1, 12])):
        indices = torch.randint(0, 20, (12,))
        got, want = compiled(indices, offsets), eager(indices, offsets)
        torch.testing.assert_close(got, want)
        got.pow(2).sum().backward()
        want.pow(2).sum().backward()
        torch.testing.assert_close(ember.weight.grad, eager.weight.grad)


def test_a_buffer_size_the_user_chose_that_does_not_fit_is_an_error_naming_the_scratchpad():
    bag = nn.EmbeddingBag(20, WIDE, mode="sum")
    compiled = torch.compile(bag, backend="ember", options={"device": "edge", "buffer_bytes": WIDE * 4})
    with torch.no_grad(), pytest.raises(ValueError, match="scratchpad holds 16384 bytes"):
        compiled(torch.randint(0, 20, (6,)), torch.tensor([0, 3]))


def test_pieces_larger_than_a_row_are_whole_rows_not_a_compile_error():
    """16 KiB pieces plus the weights' queue would overflow the edge scratchpad, but the rows are 256 bytes:
    a piece is never wider than its row, which only the launch knows."""
    torch.manual_seed(0)
    bag = nn.EmbeddingBag(20, 64, mode="sum")
    compiled = torch.compile(bag, backend="ember", options={"device": "edge", "buffer_bytes": 16384})
    indices, offsets, weights = torch.randint(0, 20, (12,)), torch.tensor([0, 5, 9]), torch.rand(12)
    with torch.no_grad():
        torch.testing.assert_close(compiled(indices, offsets, per_sample_weights=weights),
                                   bag(indices, offsets, per_sample_weights=weights))
