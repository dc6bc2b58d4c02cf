"""The regions the compiler lowers, run on a GPU through Triton kernels (``options={"regions": "triton"}``).

One module per kernel family: ``embedding_bag`` (forward, and ``embedding_bags``: several tables in one
launch), ``embedding_bag_backward``, ``rows`` (row gathers, row scatters, message passing), ``elements``
(element gathers and scatters), ``segment`` (segment reductions and the sort-based scatter fallback);
``regions`` routes a region to its kernel through the same adapters the DAE device uses, and ``device``
offers that as the runtime's ``RegionDevice``. Under
``TRITON_INTERPRET=1`` the kernels run on CPU tensors (slowly), which is how the tests check them.
"""
from .embedding_bag import Bag, embedding_bags
from .device import TritonDevice
from .regions import run_region

__all__ = ["Bag", "embedding_bags", "run_region", "TritonDevice"]
