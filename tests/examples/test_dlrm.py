"""A shorter run of examples/dlrm.py: ember and eager losses agree at every step."""
import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_dlrm_trains_like_eager():
    path = Path(__file__).parents[2] / "examples" / "dlrm.py"
    spec = importlib.util.spec_from_file_location("dlrm_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--steps", "4", "--batch", "32", "--rest", "eager"]) == 0
