"""Triton launches on a GPU are timed by CUDA events that ``report()`` reads, not each launch."""
from torch_ember.runtime.stats import Stats


class FakeEvent:
    """Stands in for ``torch.cuda.Event``: a time in ms, and whether anyone waited for it."""

    def __init__(self, ms: float) -> None:
        self.ms, self.waited = ms, False

    def synchronize(self) -> None:
        self.waited = True

    def elapsed_time(self, end: "FakeEvent") -> float:
        return end.ms - self.ms


def test_cuda_events_are_read_when_the_report_is_asked_for():
    stats = Stats()
    pairs = [(FakeEvent(1.0), FakeEvent(3.5)), (FakeEvent(10.0), FakeEvent(10.5))]
    for pair in pairs:
        stats.record_kernel("r:t", "gather_rows", "cuda:0 (GPU)", cuda_events=pair)
    assert not any(end.waited for _, end in pairs)
    [kernel] = stats.report().kernels
    assert all(end.waited for _, end in pairs)
    assert kernel.launches == 2 and abs(kernel.seconds - 3.0e-3) < 1e-12
    stats.record_kernel("r:t", "gather_rows", "cuda:0 (GPU)", seconds=1e-3)
    assert stats.report().kernels[0].launches == 3
    stats.reset()
    assert not stats.report().kernels
