"""``aten.embedding`` and its backward, ``aten.embedding_dense_backward``."""
from __future__ import annotations

from .base import AdapterDefaults, aten, check_indices, gather_index_error


class EmbeddingAdapter(AdapterDefaults):
    @staticmethod
    def program_inputs(spec, args):
        weight, indices = args
        check_indices(spec, indices, weight.shape[0], weight.shape[1], error=gather_index_error(spec.op, weight))
        return {"table": weight, "indices": indices.reshape(-1)}

    @staticmethod
    def finish(spec, args, outputs):
        weight, indices = args
        return [outputs["out"].reshape(*indices.shape, weight.shape[1])]

    @staticmethod
    def reference(spec, args):
        return [aten.embedding(args[0], args[1], spec.padding_idx)]



class EmbeddingBackwardAdapter(AdapterDefaults):
    @staticmethod
    def program_inputs(spec, args):
        grad, indices = args
        return {"grad": grad.reshape(indices.numel(), grad.shape[-1]), "indices": indices.reshape(-1)}

    @staticmethod
    def finish(spec, args, outputs):
        return [outputs["grad_weight"]]

    @staticmethod
    def reference(spec, args):
        return [aten.embedding_dense_backward(args[0], args[1], spec.num_weights, spec.padding_idx, False)]

