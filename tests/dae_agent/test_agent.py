"""Self-improvement bookkeeping: demonstration strata, deduplication, shortest pick, retry temperatures, the
stop rule; replayed from a transcript of a real SmolLM2 run, and driven by a scripted stand-in (a test
double that answers with expert programs, not a language model) where a run must solve something."""
import json
import re
from pathlib import Path

import pytest

from dae_agent.agent import Agent, AgentConfig
from dae_agent.demos import Library, Solution
from dae_agent.models import Completion, ReplayModel
from dae_agent.prompt import extract_program
from dae_agent.report import JsonlLog, results_table
from dae_agent.switch import faster_program, save_library
from dae_agent.tasks import TASKS
from dae_agent.verifier import Stage, modeled_cycles

TRANSCRIPT = Path(__file__).parent / "transcripts" / "smollm2_gather_rows_bag_sum.json"


def _solution(name, program=None):
    task = TASKS[name]
    return Solution(name, task.level, program or task.expert, 1.0)


def test_library_keeps_the_shortest_and_deduplicates():
    library = Library()
    long = TASKS["gather_rows"].expert.replace("execute:\n", "execute:\n# a comment\n")
    assert library.add(_solution("gather_rows"))
    assert not library.add(_solution("gather_rows", "\n" + long.replace("  ", "    ")))   # same program
    longer = TASKS["gather_rows"].expert.replace("    store out[%i] = %row\n",
                                                 "    %y = add %row, 0.0\n    store out[%i] = %y\n")
    assert library.add(_solution("gather_rows", longer))
    assert library.best("gather_rows").program == TASKS["gather_rows"].expert


def test_demonstrations_are_stratified_hardest_first_and_exclude_the_task():
    library = Library()
    for name in ("gather_rows", "bincount", "bag_sum", "segment_sum", "bag_max_argmax", "two_table_bag_sum"):
        library.add(_solution(name))
    demos = library.demonstrations("bag_sum", 4)
    assert [d.level for d in demos] == [3, 2, 1, 3]
    assert "bag_sum" not in {d.task for d in demos}
    assert len(library.demonstrations("x", 10)) == 6


def test_identical_programs_of_two_tasks_are_shown_once():
    library = Library()
    library.add(_solution("gather_rows"))
    library.add(Solution("moe_dispatch", 1, TASKS["gather_rows"].expert))
    assert len(library.demonstrations("bag_sum", 4)) == 1


def test_retry_temperatures_rise_and_cap():
    assert AgentConfig(retries=3, temperature=0.2, temperature_step=0.3, max_temperature=0.9).temperatures() == \
        [0.2, 0.5, 0.8, 0.9]
    assert AgentConfig(retries=0).temperatures() == [0.2]


def _replay_config():
    settings = json.loads(TRANSCRIPT.read_text())["settings"]
    return AgentConfig(samples=settings["samples"], retries=settings["retries"], max_rounds=settings["rounds"]), settings


def test_replayed_real_run_reproduces_its_bookkeeping(tmp_path):
    config, settings = _replay_config()
    log = JsonlLog(tmp_path / "log.jsonl")
    result = Agent(ReplayModel(TRANSCRIPT), config, log).run([TASKS[n] for n in settings["tasks"]])
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert len(rows) == len(result.attempts) == len(json.loads(TRANSCRIPT.read_text())["calls"])
    for a in result.attempts:
        assert a.temperature == config.temperatures()[a.retry]
        assert a.prompt_tokens > 0 and a.seconds > 0
        if a.retry:   # a retry only follows a failure, and its prompt carries that failure
            before = next(b for b in result.attempts if (b.task, b.round, b.sample, b.retry) ==
                          (a.task, a.round, a.sample, a.retry - 1))
            assert not before.passed and before.prompt_hash != a.prompt_hash
    solved_first = result.solved(max_round=0)
    # the stop rule: round 0 solving nothing ends the run; otherwise rounds go on until one adds nothing
    assert result.rounds == 1 if not solved_first else result.rounds >= 2
    assert {r["stage"] for r in rows} <= {s.value for s in Stage}
    assert "solved by a single call" in results_table(result)


def test_replay_refuses_unrecorded_prompts():
    config, settings = _replay_config()
    with pytest.raises(KeyError, match="no answer"):
        Agent(ReplayModel(TRANSCRIPT), config).run([TASKS["segment_sum"]])


class Scripted:
    """Test double: fails bag_sum until a demonstration is in its prompt, then answers with the expert."""

    name = "scripted-test-double"

    def __init__(self):
        self.prompts = []

    def complete(self, messages, temperature, seed):
        prompt = messages[-1]["content"]
        self.prompts.append(prompt)
        task = TASKS[re.findall(r"Task (\w+): ", prompt)[-1]]   # demonstrations come before the task
        solved_example = "Solved example." in prompt
        text = task.expert if task.name != "bag_sum" or solved_example else "program broken\n"
        return Completion(f"```\n{text}```", 10, 5, 0.01)


def test_self_improvement_uses_solved_tasks_and_stops_when_nothing_new():
    model = Scripted()
    tasks = [TASKS["gather_rows"], TASKS["bag_sum"]]
    result = Agent(model, AgentConfig(samples=1, retries=1)).run(tasks)
    assert result.solved(single=True) == {"gather_rows"}
    assert result.solved(max_round=0) == {"gather_rows"}
    assert result.solved() == {"gather_rows", "bag_sum"}
    assert result.rounds == 2
    round1 = [a for a in result.attempts if a.round == 1]
    assert [a.task for a in round1] == ["bag_sum"] and round1[0].demos == ("gather_rows",)
    failed = [a for a in result.attempts if a.task == "bag_sum" and a.round == 0]
    assert [(a.retry, a.passed) for a in failed] == [(0, False), (1, False)]
    assert "The verifier said: signature error" in model.prompts[2]


def test_program_extraction():
    assert extract_program("Sure!\n```dae\nprogram p\nparam x: f32[n]\n```\nDone") == "program p\nparam x: f32[n]\n"
    assert extract_program("text only") == ""


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
