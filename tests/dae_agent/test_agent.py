"""The agent's loop: parallel samples, the checking stage, the paper's temperatures, strata and stop rule, and
the switches beyond the paper (repair, speed). Driven by ``Scripted``, a test double that answers by rules
the tests set (expert programs, deliberately broken ones): bookkeeping logic, never a language model's
output. A real model's answers are replayed in test_replay.py."""
import json
import re
import threading
import time

from dae_agent.__main__ import parse_args
from dae_agent.agent import Agent, AgentConfig, Kind, seed_of
from dae_agent.cli import config_from_arguments
from dae_agent.models import Completion
from dae_agent.prompt import CHECKER_SYSTEM, LANGUAGE_REFERENCE, extract_program
from dae_agent.report import results_table
from dae_agent.switch import save_library
from dae_agent.tasks import TASKS
from dae_agent.verifier import Stage

BROKEN = "program broken\n"      # parses; fails the signature check


def echo(task, prompt, temperature, seed):
    """A checker rule: return the proposed program unchanged."""
    return prompt.split("A proposed program:\n", 1)[1].split("\n\nStatic legality check:", 1)[0]


class Scripted:
    """Test double, not a language model: each kind of call (propose, check, repair, speed) is answered by a
    rule ``(task, prompt, temperature, seed) -> program text``; every call is recorded."""

    name = "scripted-test-double"

    def __init__(self, propose=lambda task, *_: task.expert, check=echo, repair=None, speed=None, delay=0.0):
        self.rules = {"propose": propose, "check": check, "repair": repair, "speed": speed}
        self.calls, self.delay, self.lock, self.active, self.max_active = [], delay, threading.Lock(), 0, 0

    def complete(self, messages, temperature, seed, grammar=None):
        prompt = messages[-1]["content"]
        task = TASKS[re.findall(r"Task (\w+): ", prompt)[-1]]   # demonstrations come before the task
        kind = ("check" if messages[0]["content"] == CHECKER_SYSTEM else "speed" if "modeled cost" in prompt
                else "repair" if "Your previous program:" in prompt else "propose")
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.calls.append(dict(kind=kind, task=task.name, temperature=temperature, seed=seed, prompt=prompt))
        time.sleep(self.delay)
        text = self.rules[kind](task, prompt, temperature, seed)
        with self.lock:
            self.active -= 1
        return Completion(f"```\n{text}```", 10, 5, 0.01)


def _key(attempt):
    return (attempt.task, attempt.round, attempt.kind, attempt.sample, attempt.repair, attempt.temperature,
            attempt.seed, attempt.prompt_hash, attempt.demos, attempt.proposal_stage, attempt.program, attempt.stage,
            attempt.cycles)


# --------------------------------------------------------------------------------------------- the paper


def test_defaults_are_the_papers_setting():
    config = AgentConfig()
    assert config.retry_temperatures == (0.4, 0.7, 1.0)
    assert config.round_temperatures(0) == (config.temperature,) and config.round_temperatures(3) == (0.4, 0.7, 1.0)
    assert config.checker and config.strata == 3 and config.demos is None and config.max_rounds is None
    assert (config.repair, config.speed) == (0, 0)                    # the extras are off
    assert config_from_arguments(parse_args(["run"])) == config       # and so on the command line
    switched = config_from_arguments(parse_args(
        ["run", "--no-checker", "--repair", "2", "--speed", "1", "--retry-temperatures", "0.3,0.9", "--strata", "2",
         "--workers", "1"]))
    assert switched == AgentConfig(checker=False, repair=2, speed=1, retry_temperatures=(0.3, 0.9), strata=2,
                                   workers=1)


def test_the_reference_shows_every_instruction():
    from dae_emulator.program import AluOp, OpKind, QueueKind, ReduceKind, StreamKind
    words = set(re.findall(r"\w+", LANGUAGE_REFERENCE))
    for kind in (*OpKind, *AluOp, *ReduceKind, *QueueKind, *StreamKind):
        assert kind.value in words, kind
    for word in ("dense", "range", "when", "iter", "end", "lanes", "unroll", "x16", "init"):
        assert word in words


def test_samples_run_in_parallel_and_give_what_sequential_sampling_gives():
    def propose(task, prompt, temperature, seed):      # passes for some seeds only
        return task.expert if (seed // 100) % 3 != 1 else BROKEN
    tasks = [TASKS[n] for n in ("bincount", "scatter_add_scalar", "index_select_1d")]
    runs = {}
    for workers in (1, 4):
        model = Scripted(propose=propose, delay=0.02)
        result = Agent(model, AgentConfig(samples=4, workers=workers)).run(tasks)
        runs[workers] = (result, model)
    (seq, seq_model), (par, par_model) = runs[1], runs[4]
    assert seq_model.max_active == 1 and par_model.max_active > 1
    assert [_key(a) for a in seq.attempts] == [_key(a) for a in par.attempts]
    assert seq.library == par.library
    assert [a.sample for a in par.attempts if a.task == "bincount"] == [0, 1, 2, 3]   # in sample order
    assert seq.library.passes == {"bincount": 3, "scatter_add_scalar": 3, "index_select_1d": 3}


def test_the_checker_gets_the_proposal_and_the_static_findings_and_its_program_is_verified():
    gather = TASKS["gather_rows"]
    deadlocks = gather.expert.replace("    %row = pop q_row\n", "").replace("= %row", "= 1.0")
    model = Scripted(propose=lambda task, *_: deadlocks,
                     check=lambda task, prompt, *_: task.expert if "legality error" in prompt else BROKEN)
    result = Agent(model, AgentConfig(samples=1)).run([gather])
    [attempt] = result.attempts
    propose, check = model.calls
    assert (propose["kind"], check["kind"]) == ("propose", "check")
    assert deadlocks.strip() in check["prompt"] and "deadlock" in check["prompt"]
    assert check["temperature"] == propose["temperature"] and check["seed"] == propose["seed"] + 1
    assert attempt.checked and attempt.proposal_stage is Stage.LEGALITY
    assert attempt.stage is Stage.PASSED and attempt.program == gather.expert and attempt.cycles > 0
    assert result.solved(max_round=0) == {"gather_rows"} and result.solved(single=True) == set()


def test_a_checker_never_undoes_a_verified_proposal():
    gather = TASKS["gather_rows"]
    model = Scripted(check=lambda *_: BROKEN)
    [attempt] = Agent(model, AgentConfig(samples=1)).run([gather]).attempts
    assert attempt.stage is Stage.PASSED and attempt.program == gather.expert
    assert "no static problem found" in model.calls[1]["prompt"]


def test_without_the_checker_the_proposal_is_verified_in_one_call():
    model = Scripted(check=None)
    result = Agent(model, AgentConfig(samples=2, checker=False)).run([TASKS["bincount"]])
    assert [c["kind"] for c in model.calls] == ["propose", "propose"]
    assert all(not a.checked and a.passed for a in result.attempts)
    assert result.solved(single=True) == {"bincount"}


def test_unsolved_tasks_are_retried_at_the_papers_temperatures_until_a_stratum_gains_nothing():
    # bincount 4/4, index_select_1d 1/4, scatter_add_scalar 2/4 in round 0; moe_dispatch only once
    # scatter_add_scalar's program is a demonstration; moe_expert_counts never.
    wins = {"bincount": 4, "index_select_1d": 1, "scatter_add_scalar": 2}

    def propose(task, prompt, temperature, seed):
        sample = seed // 100 % 1000
        if task.name in wins:
            return task.expert if sample < wins[task.name] else BROKEN
        if task.name == "moe_dispatch" and "Task scatter_add_scalar:" in prompt:
            return task.expert if sample == 0 else BROKEN
        return BROKEN
    names = ["bincount", "index_select_1d", "scatter_add_scalar", "moe_dispatch", "moe_expert_counts"]
    model = Scripted(propose=propose)
    result = Agent(model, AgentConfig(samples=4)).run([TASKS[n] for n in names])

    first = [a for a in result.attempts if a.round == 0]
    assert {a.temperature for a in first} == {AgentConfig.temperature} and len(first) == 4 * len(names)
    assert result.library.passes == {"bincount": 4, "index_select_1d": 1, "scatter_add_scalar": 2, "moe_dispatch": 1}
    demos = {a.round: a.demos for a in result.attempts}
    # round 1: the hardest stratum; round 2: it and the next, which solves moe_dispatch (1 pass): the strata
    # are rebuilt; rounds 3-5 try them on moe_expert_counts, the last (everything) gains nothing: stop
    assert demos[1] == ("index_select_1d",)
    assert demos[2] == ("index_select_1d", "scatter_add_scalar")
    assert demos[3] == ("index_select_1d", "moe_dispatch")
    assert demos[4] == ("index_select_1d", "moe_dispatch", "scatter_add_scalar")
    assert demos[5] == ("index_select_1d", "moe_dispatch", "scatter_add_scalar", "bincount")
    assert result.rounds == 6 and max(demos) == 5
    for rnd in range(1, 6):
        mine = [a for a in result.attempts if a.round == rnd]
        assert {a.task for a in mine} == ({"moe_dispatch", "moe_expert_counts"} if rnd <= 2 else {"moe_expert_counts"})
        for task in {a.task for a in mine}:   # every retry temperature, even after one solved the task
            assert [a.temperature for a in mine if a.task == task] == [0.4] * 4 + [0.7] * 4 + [1.0] * 4
    assert result.solved() == set(names) - {"moe_expert_counts"}
    assert "solved after self-improvement: 4/5" in results_table(result)


def test_a_round_cap_and_an_empty_round_0_stop_the_run():
    model = Scripted(propose=lambda task, *_: task.expert if task.name == "bincount" else BROKEN)
    result = Agent(model, AgentConfig(samples=1, max_rounds=1)).run([TASKS["bincount"], TASKS["moe_dispatch"]])
    assert result.rounds == 2 and {a.round for a in result.attempts} == {0, 1}
    nothing = Agent(Scripted(propose=lambda *_: BROKEN), AgentConfig(samples=1)).run([TASKS["bincount"]])
    assert nothing.rounds == 1 and len(nothing.attempts) == 1


def test_seeds_are_distinct_per_call():
    seeds = {seed_of(r, t, s, k, c) for r in range(3) for t in range(4) for s in range(5) for k in range(3)
             for c in range(2)}
    assert len(seeds) == 3 * 4 * 5 * 3 * 2


# ---------------------------------------------------------------------------------- beyond the paper


def test_the_repair_switch_feeds_the_verifiers_message_back():
    model = Scripted(propose=lambda *_: BROKEN,
                     repair=lambda task, prompt, *_: task.expert if "The verifier said: signature error" in prompt
                     else BROKEN)
    config = AgentConfig(samples=1, checker=False, repair=2)
    result = Agent(model, config).run([TASKS["bincount"]])
    assert [(a.kind, a.repair, a.passed) for a in result.attempts] == [(Kind.SAMPLE, 0, False),
                                                                      (Kind.REPAIR, 1, True)]
    assert result.attempts[1].temperature == config.repair_temperature(config.temperature, 1) == 0.8
    assert BROKEN.strip() in model.calls[1]["prompt"]
    off = Scripted(propose=lambda *_: BROKEN)
    Agent(off, AgentConfig(samples=1, checker=False)).run([TASKS["bincount"]])
    assert [c["kind"] for c in off.calls] == ["propose"]


def test_the_speed_round_feeds_the_cost_record_and_keeps_the_fastest_verified_program(tmp_path):
    bag = TASKS["bag_sum"]
    vector = bag.expert.replace("queue q_row: row f32", "queue q_row: row f32 x16").replace(
        "callback ROW:", "callback ROW lanes 16:")
    unrolled = bag.expert.replace("callback ROW:", "callback ROW unroll 4:")
    answers = iter([vector, unrolled, bag.expert.replace("reset total", "")])   # faster, slower, wrong

    model = Scripted(speed=lambda *_: next(answers))
    result = Agent(model, AgentConfig(samples=1, speed=3)).run([bag])
    speed = [a for a in result.attempts if a.kind is Kind.SPEED]
    assert [a.repair for a in speed] == [1, 2, 3] and [a.passed for a in speed] == [True, True, False]
    prompts = [c["prompt"] for c in model.calls if c["kind"] == "speed"]
    base = next(a for a in result.attempts if a.kind is Kind.SAMPLE)
    assert f"{base.cycles:.0f} cycles, bound by {base.bound}" in prompts[0] and "stall cycles" in prompts[0]
    assert vector.strip() in prompts[1] and vector.strip() in prompts[2]       # the fastest so far
    assert speed[0].cycles < base.cycles and speed[1].cycles > speed[0].cycles
    assert result.library.fastest("bag_sum").program == vector
    assert result.library.best("bag_sum").program == bag.expert               # the demonstration: shortest
    save_library(result.library, tmp_path / "library.json")                  # what the compiler's switch reads
    assert json.loads((tmp_path / "library.json").read_text()) == {"bag_sum": vector}


def test_switches_off_reproduce_the_paper_setting():
    def propose(task, prompt, temperature, seed):
        return task.expert if task.name == "bincount" or "Solved example." in prompt else BROKEN
    tasks = [TASKS["bincount"], TASKS["index_select_1d"]]
    runs = []
    for config in (AgentConfig(), AgentConfig(repair=0, speed=0, checker=True, retry_temperatures=(0.4, 0.7, 1.0))):
        model = Scripted(propose=propose)
        runs.append((Agent(model, config).run(tasks), model))
    (paper, model), (switched_off, _) = runs
    assert [_key(a) for a in paper.attempts] == [_key(a) for a in switched_off.attempts]
    assert {a.kind for a in paper.attempts} == {Kind.SAMPLE} and all(a.checked for a in paper.attempts)
    calls = sorted((c["task"], c["seed"], c["kind"]) for c in model.calls)   # parallel samples interleave
    assert [kind for *_, kind in calls] == ["propose", "check"] * len(paper.attempts)
    assert [a.temperature for a in paper.attempts if a.round == 1] == [0.4, 0.4, 0.7, 0.7, 1.0, 1.0]


def test_program_extraction():
    assert extract_program("Sure!\n```dae\nprogram p\nparam x: f32[n]\n```\nDone") == "program p\nparam x: f32[n]\n"
    assert extract_program("text only") == ""


def test_every_call_carries_the_tasks_grammar_for_the_backend_to_use():
    from dae_agent.grammar import task_constraint, task_grammar
    seen = []

    class Recording(Scripted):
        def complete(self, messages, temperature, seed, grammar=None):
            seen.append(grammar)
            return super().complete(messages, temperature, seed, grammar)
    Agent(Recording(), AgentConfig(samples=1, max_rounds=0)).run([TASKS["gather_rows"]])
    scoped = task_constraint(TASKS["gather_rows"], AgentConfig.device).scoped
    assert seen and all(g.text == task_grammar(TASKS["gather_rows"], AgentConfig.device) and g.scoped == scoped
                        for g in seen)
