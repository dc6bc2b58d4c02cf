"""Sparse features in TorchRec's layout, from our own type or anything with KeyedJaggedTensor's methods."""
import pytest
import torch

from torch_ember.distributed import KeyedJagged, as_keyed_jagged


def features():
    return KeyedJagged(("a", "b"), torch.tensor([1, 2, 3, 4, 5, 6]), torch.tensor([2, 0, 1, 1, 1, 1]),
                       torch.arange(6.0))


def test_per_key_and_batch_slices():
    kjt = features()
    assert kjt.batch_size == 3
    ids, lengths, weights = kjt.per_key()["b"]
    assert ids.tolist() == [4, 5, 6] and lengths.tolist() == [1, 1, 1] and weights.tolist() == [3.0, 4.0, 5.0]
    tail = kjt.slice_batch(1, 3)
    assert tail.values.tolist() == [3, 5, 6] and tail.lengths.tolist() == [0, 1, 1, 1]


def test_from_bags_matches_embedding_bag_offsets():
    bags = [(torch.tensor([1, 2, 3]), torch.tensor([0, 2, 2]), None),
            (torch.tensor([4, 5]), torch.tensor([0, 1, 1]), None)]
    kjt = KeyedJagged.from_bags(["a", "b"], bags)
    assert kjt.lengths.tolist() == [2, 0, 1, 1, 0, 1]


def test_a_torchrec_style_object_is_read_through_its_methods():
    class LikeKJT:       # the methods of torchrec.sparse.jagged_tensor.KeyedJaggedTensor that we read
        def keys(self): return ["a", "b"]
        def values(self): return torch.tensor([1, 2, 3, 4, 5, 6], dtype=torch.int32)
        def lengths(self): return torch.tensor([2, 0, 1, 1, 1, 1], dtype=torch.int32)
        def weights_or_none(self): return None
    kjt = as_keyed_jagged(LikeKJT())
    assert kjt.keys == ("a", "b") and kjt.values.dtype == torch.int64 and kjt.weights is None


def test_inconsistent_features_are_rejected():
    with pytest.raises(ValueError, match="lengths add up to 3 ids but there are 2"):
        KeyedJagged(("a",), torch.tensor([1, 2]), torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="KeyedJagged or a torchrec KeyedJaggedTensor"):
        as_keyed_jagged({"a": torch.tensor([1])})
