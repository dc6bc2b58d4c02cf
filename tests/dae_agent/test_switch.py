"""The compiler's switch: a saved agent program is used only when it re-verifies and models faster."""
import json

from dae_agent.demos import Library, Solution
from dae_agent.switch import faster_program, save_library
from dae_agent.tasks import TASKS
from dae_agent.verifier import modeled_cycles


def test_switch_takes_an_agent_program_only_when_verified_and_faster(tmp_path):
    gather = TASKS["gather_rows"]
    other = gather.expert.replace("    store out[%i] = %row\n", "    %y = max %row, %row\n    store out[%i] = %y\n")
    other = other.replace("  stream row = load_row table[r] @tu0\n", "  stream r2 = alu mul(r, 1) @tu0\n"
                          "  stream row = load_row table[r2] @tu0\n")
    library = Library()
    library.add(Solution("gather_rows", 1, other))
    path = tmp_path / "library.json"
    save_library(library, path)
    faster = modeled_cycles(gather, other) < modeled_cycles(gather, gather.expert)
    assert faster_program("gather_rows", gather.expert, path) == (other if faster else None)
    assert faster_program("gather_rows", other, path) is None                  # not faster than itself
    path.write_text(json.dumps({"gather_rows": other.replace("store out", "store_add out")}))
    assert faster_program("gather_rows", gather.expert + "\n", path) is None   # saved but wrong
    assert faster_program("bag_sum", gather.expert, path) is None              # nothing saved


def test_the_saved_program_is_the_fastest_verified_one(tmp_path):
    gather = TASKS["gather_rows"]
    library = Library()
    library.add(Solution("gather_rows", 1, gather.expert, 20.0))
    library.add(Solution("gather_rows", 1, gather.expert.replace("callback ROW:", "callback ROW unroll 2:"), 10.0))
    save_library(library, tmp_path / "library.json")
    assert json.loads((tmp_path / "library.json").read_text())["gather_rows"].count("unroll 2") == 1
