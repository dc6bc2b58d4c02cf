"""Shorter runs of examples/gnn.py and examples/moe.py: ember and eager losses agree at every step."""
import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).parents[2] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"{name}_example", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gcn_and_graphsage_train_like_eager():
    assert _load("gnn").main(["--nodes", "400", "--edges", "3000", "--steps", "3", "--rest", "eager"]) == 0


def test_moe_block_trains_like_eager():
    assert _load("moe").main(["--steps", "3", "--batch", "2", "--length", "16", "--rest", "eager"]) == 0
