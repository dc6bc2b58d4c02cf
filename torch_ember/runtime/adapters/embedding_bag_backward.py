"""``aten._embedding_bag_backward`` (sum, mean, max) and ``_embedding_bag_per_sample_weights_backward``."""
from __future__ import annotations

import torch

from ...region_spec import BagMode
from .base import AdapterDefaults, aten
from .embedding_bag import with_last_offset

def _bag_offsets_for(grad: torch.Tensor, indices: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Backward ops are not told ``include_last_offset``; the gradient's row count says it."""
    return with_last_offset(offsets, indices.numel(), grad.shape[0] == offsets.shape[0] - 1)


class EmbeddingBagBackwardAdapter(AdapterDefaults):
    @staticmethod
    def program_inputs(spec, args):
        grad, indices, offsets, _offset2bag, bag_size, max_indices = args[:6]
        if spec.mode is BagMode.MAX:
            return {"grad": grad.reshape(-1), "max_indices": max_indices.reshape(-1), "bag_size": bag_size}
        inputs = {"grad": grad, "indices": indices, "offsets": _bag_offsets_for(grad, indices, offsets)}
        if spec.has_weights:
            inputs["weights"] = args[6]
        if spec.mode is BagMode.MEAN:
            inputs["bag_size"] = bag_size
        return inputs

    @staticmethod
    def finish(spec, args, outputs):
        return [outputs["grad_weight"]]

    @staticmethod
    def reference(spec, args):
        psw = args[6] if spec.has_weights else None
        return [aten._embedding_bag_backward(*args[:6], spec.num_weights, False, int(spec.mode), False, psw,
                                             spec.padding_idx)]



class EmbeddingBagWeightsBackwardAdapter(AdapterDefaults):
    @staticmethod
    def program_inputs(spec, args):
        grad, weight, indices, offsets = args[:4]
        return {"grad": grad, "table": weight, "indices": indices,
                "offsets": _bag_offsets_for(grad, indices, offsets)}

    @staticmethod
    def finish(spec, args, outputs):
        return [outputs["grad_weights"]]

    @staticmethod
    def reference(spec, args):
        return [aten._embedding_bag_per_sample_weights_backward(*args[:5], int(spec.mode), spec.padding_idx)]

