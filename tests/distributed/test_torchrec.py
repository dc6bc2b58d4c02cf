"""A real TorchRec ``KeyedJaggedTensor`` as the sparse input, where torchrec installs beside this torch.

Plain ``pip install torchrec`` would pull ``fbgemm-gpu``, a ~500 MB CUDA wheel built for the newest torch, so
the test command (``.ci/run``) installs ``torchrec==1.8.0 fbgemm-gpu-cpu==1.8.0`` with ``--no-deps`` (FBGEMM
1.8 is the release built for torch 2.13) and the test extra carries their other requirements. Where torchrec
is absent or its FBGEMM libraries do not load, these tests are skipped with the import error as the reason.
"""
import pytest
import torch
from workers import as_torchrec, global_features, run_ranks, torchrec_input_equals_unsharded, torchrec_kjt

from torch_ember.distributed import as_keyed_jagged

KJT, WHY_NOT = torchrec_kjt()
pytestmark = pytest.mark.skipif(KJT is None, reason=WHY_NOT)


def test_a_real_keyed_jagged_tensor_converts_field_for_field():
    ours = global_features()
    kjt = as_torchrec(ours, ours.keys)
    assert isinstance(kjt, KJT)
    back = as_keyed_jagged(kjt)
    assert back.keys == ours.keys and back.lengths.dtype == torch.int64
    assert torch.equal(back.values, ours.values) and torch.equal(back.lengths, ours.lengths)
    assert torch.equal(back.weights, ours.weights)


def test_offsets_only_and_unweighted_torchrec_input():
    kjt = KJT(keys=["a", "b"], values=torch.tensor([1, 2, 3, 4, 5, 6]), offsets=torch.tensor([0, 2, 2, 3, 4, 5, 6]))
    got = as_keyed_jagged(kjt)
    assert got.lengths.tolist() == [2, 0, 1, 1, 1, 1] and got.weights is None
    assert got.per_key()["b"][0].tolist() == [4, 5, 6]


@pytest.mark.slow
def test_sharded_model_takes_a_real_keyed_jagged_tensor():
    for rank, line in enumerate(run_ranks(torchrec_input_equals_unsharded, 2, deadline_s=120)):
        assert line.startswith("torchrec.sparse.jagged_tensor.KeyedJaggedTensor forward"), f"rank {rank}: {line}"
        forward, backward, same = (float(x) for x in line.split()[2::2])
        assert forward < 1e-5 and backward < 1e-5 and same == 0.0, f"rank {rank}: {line}"
