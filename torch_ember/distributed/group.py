"""Start and always stop a process group, with a timeout, so that a failed rank never leaves others hanging."""
from __future__ import annotations

import contextlib
import datetime

import torch
import torch.distributed as dist


@contextlib.contextmanager
def process_group(*, backend: str | None = None, timeout_s: float = 120.0, rank: int | None = None,
                  world_size: int | None = None, init_method: str = "env://"):
    """``init_process_group`` (from torchrun's environment unless ``rank``/``world_size``/``init_method`` are
    given), then ``destroy_process_group`` however the block ends. ``backend`` defaults to NCCL where there
    are GPUs and gloo otherwise; a collective that waits longer than ``timeout_s`` raises."""
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    kwargs = {} if rank is None else {"rank": rank, "world_size": world_size}
    dist.init_process_group(backend, init_method=init_method, timeout=datetime.timedelta(seconds=timeout_s), **kwargs)
    try:
        yield dist.group.WORLD
    finally:
        dist.destroy_process_group()
