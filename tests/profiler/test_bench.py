"""``python -m torch_ember.bench`` on a small size: the table's columns and a roofline PNG."""
import pytest

from torch_ember.bench.__main__ import main

pytestmark = pytest.mark.slow


def test_dlrm_bench_prints_the_table_and_writes_the_roofline(tmp_path, capsys):
    plot = tmp_path / "roofline.png"
    assert main(["dlrm", "--size", "small", "--steps", "1", "--rest", "eager", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    header, _, row = out.splitlines()[:3]
    for column in ("eager CPU ms", "emulator ms", "modeled DAE ms", "bound", "DRAM GB/s", "energy mJ"):
        assert column in header
    assert row.split()[0] == "dlrm" and float(row.split()[4]) > 0      # modeled DAE ms
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, message", [
    (["dlrm", "--steps", "0"], "--steps must be at least 1, got 0"),        # it divided by zero after the run
    (["dlrm", "--device", "bogus"], "invalid choice: 'bogus'"),            # a BackendCompilerFailed traceback
])
def test_bad_arguments_are_refused_before_anything_runs(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2 and message in capsys.readouterr().err
