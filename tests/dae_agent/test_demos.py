"""The agent's memory: deduplication after normalizing names, the shortest pick, the fastest pick, and the
paper's strata of demonstrations by pass count, hardest first."""
from dae_agent.demos import Library, Solution, canonical
from dae_agent.tasks import TASKS

GATHER = TASKS["gather_rows"].expert


def _solution(name, program=None, cycles=1.0):
    task = TASKS[name]
    return Solution(name, task.level, program or task.expert, cycles)


def _renamed(program):
    """The same program with every self-chosen name changed (loops, streams, queues, token, values, name)."""
    for old, new in (("gather_rows", "my_gather"), ("tu0", "loop"), ("q_row", "rows_q"), ("q_i", "idx_q"),
                     ("ROW", "EMIT"), ("%row", "%v"), ("%i", "%k"), ("stream r ", "stream ix "),
                     ("table[r]", "table[ix]"), ("stream i ", "stream n "), ("indices[i]", "indices[n]"),
                     ("<- i,", "<- n,"), ("<- row", "<- line"), ("stream row ", "stream line ")):
        program = program.replace(old, new)
    return program


def test_a_renamed_program_is_the_same_program():
    renamed = _renamed(GATHER)
    assert renamed != GATHER and canonical(renamed) == canonical(GATHER)
    library = Library()
    assert library.add(_solution("gather_rows"))
    assert not library.add(_solution("gather_rows", "\n# a comment\n" + renamed.replace("  ", "    ")))
    changed = GATHER.replace("store out[%i] = %row", "store_add out[%i] += %row")
    assert canonical(changed) != canonical(GATHER) and library.add(_solution("gather_rows", changed))


def test_the_shortest_is_the_demonstration_and_the_fastest_is_kept_apart():
    library = Library()
    longer = GATHER.replace("    store out[%i] = %row\n", "    %y = add %row, 0.0\n    store out[%i] = %y\n")
    library.add(_solution("gather_rows", longer, cycles=10.0))
    library.add(_solution("gather_rows", cycles=20.0))
    assert library.best("gather_rows").program == GATHER
    assert library.fastest("gather_rows").program == longer


def _library(passes):
    library = Library()
    for name, count in passes.items():
        library.add(_solution(name))
        library.record_passes(name, count)
    return library


def test_strata_go_from_the_hardest_and_each_holds_the_one_before():
    library = _library({"bincount": 4, "scatter_add_scalar": 2, "index_select_1d": 1, "gather_rows": 3})
    strata = library.strata(3)
    assert [[s.task for s in stratum] for stratum in strata] == [
        ["index_select_1d", "scatter_add_scalar"],
        ["index_select_1d", "scatter_add_scalar", "gather_rows"],
        ["index_select_1d", "scatter_add_scalar", "gather_rows", "bincount"]]
    assert [[s.task for s in stratum] for stratum in library.strata(1)] == [
        ["index_select_1d", "scatter_add_scalar", "gather_rows", "bincount"]]
    assert [len(stratum) for stratum in library.strata(3, limit=2)] == [2]   # equal sets are tried once
    assert Library().strata(3) == []


def test_tied_pass_counts_share_a_stratum():
    library = _library({"bincount": 2, "scatter_add_scalar": 2, "index_select_1d": 2, "gather_rows": 5})
    assert [[s.task for s in stratum] for stratum in library.strata(3)] == [
        ["bincount", "index_select_1d", "scatter_add_scalar"],
        ["bincount", "index_select_1d", "scatter_add_scalar", "gather_rows"]]


def test_pass_counts_are_those_of_the_round_that_solved_the_task():
    library = _library({"bincount": 1})
    library.record_passes("bincount", 4)
    assert library.passes["bincount"] == 1


def test_identical_programs_of_two_tasks_are_shown_once():
    library = Library()
    library.add(_solution("gather_rows"))
    library.record_passes("gather_rows", 1)
    library.add(Solution("moe_dispatch", 1, _renamed(GATHER)))
    library.record_passes("moe_dispatch", 1)
    assert [len(stratum) for stratum in library.strata(1)] == [1]
