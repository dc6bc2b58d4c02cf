"""The agent's benchmark scripts take a mistake in their arguments as argparse does: one line on stderr
naming it, exit status 2, no traceback and no model loaded."""
import pytest

import benchmark_script          # tests/benchmarks/benchmark_script.py


@pytest.mark.parametrize("script", ["agent_compare", "agent_likelihood"])
def test_an_unknown_task_is_an_argument_error(script, capsys):
    with pytest.raises(SystemExit) as stopped:
        benchmark_script.load(script).main(["--tasks", "gather_rowz"])
    assert stopped.value.code == 2
    assert "unknown task or group 'gather_rowz'" in capsys.readouterr().err
