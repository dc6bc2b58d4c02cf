"""``python -m torch_ember.bench {dlrm,gnn,moe}``: a workload eagerly and under the ember backend, side by
side (eager CPU time, emulator wall time, modeled DAE time, bound, DRAM GB/s, energy), and with
``--plot PATH`` a roofline of the modeled device with each region on it."""
from .measure import Measurement, measure, table
from .roofline import plot_roofline
from .workloads import WORKLOADS, Workload

__all__ = ["Measurement", "measure", "table", "plot_roofline", "WORKLOADS", "Workload"]
