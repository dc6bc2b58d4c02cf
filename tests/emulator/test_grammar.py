"""The DAE grammar (``dae_emulator.grammar``) against the parser (``dae_emulator.text``): every program of the
corpus parses and is accepted by the grammar; malformed text is refused by both."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import dae_emulator
from dae_agent.tasks import TASKS
from dae_emulator.grammar import PROGRAM_GRAMMAR, program_grammar
from torch_ember.ir.__main__ import WORKLOADS
from torch_ember.pipeline import compile_region

xgr = pytest.importorskip("xgrammar")
ROOT = Path(__file__).resolve().parents[2]
_VOCAB = [chr(c) for c in range(32, 127)] + ["\n"]      # one token per character: the grammar alone decides


def accepts(grammar: str, text: str) -> bool:
    compiled = xgr.GrammarCompiler(xgr.TokenizerInfo(_VOCAB)).compile_grammar(xgr.Grammar.from_ebnf(grammar))
    matcher = xgr.GrammarMatcher(compiled, terminate_without_stop_token=True)
    return matcher.accept_string(text) and matcher.is_completed()


def _programs_in(path: Path) -> list[str]:
    return [p for p in re.split(r"(?m)^(?=program )", path.read_text()) if p.startswith("program ")]


# the corpus of DAE program text: hand-written programs, Ember's code per level, the tasks' expert programs,
# the prompt's example, the emulator tests' programs
CORPUS_FOLDERS = ("benchmarks/handwritten", "benchmarks/ember_code", "dae_agent/tasks/programs", "dae_agent/prompts",
                  "tests/emulator/programs")


def corpus() -> dict[str, str]:
    programs = {}
    for folder in CORPUS_FOLDERS:
        for path in sorted((ROOT / folder).glob("*.dae")):
            for k, text in enumerate(_programs_in(path)):
                programs[f"{folder}/{path.name}#{k}"] = text.replace("POOLING", "20")   # ember_figures.py fills it in
    device = dae_emulator.preset("server")
    for name, (spec, dtypes, _) in WORKLOADS.items():
        for level in range(4):
            programs[f"compiled {name} level {level}"] = dae_emulator.format_program(
                compile_region(spec, dtypes, device, level).dae)
    return programs


CORPUS = corpus()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_program_of_the_corpus_parses_and_is_in_the_grammar(name):
    text = CORPUS[name]
    dae_emulator.parse_program(text)
    assert accepts(PROGRAM_GRAMMAR, text), name


@pytest.mark.parametrize("text", [
    "Here is the program:\nprogram p\nparam x: f32[n]\naccess:\nqueues:\nexecute:\n",   # prose first
    "program p\nparam x: f8[n]\naccess:\nqueues:\nexecute:\n",                            # no such dtype
    "program p\nparam x: f32[n]\naccess:\n  stream s = gather x[i] @t\nqueues:\nexecute:\n",   # no such stream
    "program p\nparam x: f32[n]\naccess:\nqueues:\nexecute:\n  callback A:\n    %y = fma %a, %b\n",   # no such op
    "program p\nparam x: f32[n]\naccess:\nqueues:\nexecute:\n  callback A:\n    store_add out[%i] = %y\n",
])
def test_malformed_programs_are_refused_by_the_parser_and_the_grammar(text):
    with pytest.raises(dae_emulator.DaeSyntaxError):
        dae_emulator.parse_program(text)
    assert not accepts(PROGRAM_GRAMMAR, text)


def test_a_tasks_grammar_fixes_its_signature_symbols_lanes_and_layout_and_leaves_no_room_for_prose():
    task = TASKS["bag_sum_weighted"]
    symbols = sorted({d.split(" - ")[0] for t in (*task.inputs, *task.outputs) for d in t.dims if isinstance(d, str)})
    grammar = program_grammar(params=task.signature().splitlines(), symbols=symbols, lanes=(1, 2, 4, 8, 16),
                              unrolls=(1, 2, 4, 8), comments=False, canonical=True)
    assert accepts(grammar, task.expert)
    assert not accepts(grammar, task.expert.replace("\n  ", "\n   ", 1)) and accepts(PROGRAM_GRAMMAR, task.expert.replace("\n  ", "\n   ", 1))
    assert not accepts(grammar, "\n" + task.expert)
    renamed = task.expert.replace(f"param {task.inputs[0].name}:", "param other_name:", 1)
    assert not accepts(grammar, renamed) and accepts(PROGRAM_GRAMMAR, renamed)
    commented = task.expert.replace("access:\n", "access:\n# I will now write the loops\n", 1)
    assert not accepts(grammar, commented) and accepts(PROGRAM_GRAMMAR, commented)
    wide = re.sub(r"callback (\w+)", r"callback \1 lanes 64", task.expert, count=1)
    assert not accepts(grammar, wide) and accepts(PROGRAM_GRAMMAR, wide)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_tasks_expert_program_is_in_its_own_grammar(name):
    from dae_agent.grammar import task_grammar
    task = TASKS[name]
    assert accepts(task_grammar(task, "server"), task.expert.strip() + "\n")


def test_the_corpus_holds_every_tasks_expert_program():
    assert len([n for n in CORPUS if n.startswith("dae_agent/tasks/programs/")]) == len(TASKS)
    assert {TASKS[name].expert for name in TASKS} <= set(CORPUS.values())


def test_a_tasks_grammar_holds_loads_to_their_tensors_ranks_and_bounds_what_a_model_can_only_repeat():
    from dae_agent.grammar import task_grammar
    task = TASKS["gather_rows"]         # table: 2-d, indices: 1-d
    grammar = task_grammar(task, "server")
    expert = task.expert.strip() + "\n"
    assert accepts(grammar, expert)
    variants = {
        "load of a 2-d table": expert.replace("load indices[i]", "load table[i]"),
        "row load of a 1-d tensor": expert.replace("load_row table[r]", "load_row indices[r]"),
        "another program name": expert.replace("program gather_rows", "program double_rows"),
        "a 20-digit number": expert.replace("dense [0, num_indices)", "dense [0, num_indices - " + "1" * 20 + ")"),
        "a 33-character name": expert.replace("stream r ", "stream " + "r" * 33 + " "),
        "no push rule": re.sub(r"  on tu0\.iter.*\n", "", expert),
    }
    for what, text in variants.items():
        assert text != expert, what
        assert not accepts(grammar, text), what
    # the general grammar keeps all but the verifier's rank rule and the push rule out of its business
    for what in ("another program name", "a 20-digit number", "a 33-character name", "no push rule"):
        assert accepts(PROGRAM_GRAMMAR, variants[what]), what
