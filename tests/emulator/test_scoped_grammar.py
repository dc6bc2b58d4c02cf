"""The piece grammars (``dae_emulator.scoped_grammar``): every task's expert program is written by them piece
after piece; what the verifier refuses (names out of scope, a queue popped twice, a callback declared twice,
a store before the pops) they refuse; names are given or bounded (the names themselves:
``test_scoped_names.py``; the model's answers that once stopped at a dead end: ``test_recorded_answers.py``)."""
from __future__ import annotations

import dataclasses

import pytest

from dae_agent.grammar import callback_constants, task_constraint
from dae_agent.tasks import TASKS
from dae_emulator.scoped_grammar import pieces
from gbnf_accepts import accepts, begins        # tests/emulator/gbnf_accepts.py


def scoped(name: str):
    return task_constraint(TASKS[name], "server").scoped


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_tasks_expert_program_is_written_piece_by_piece(name):
    grammar, text = scoped(name), TASKS[name].expert.strip() + "\n"
    written = grammar.prefix
    for piece in pieces(text, grammar.prefix):
        assert accepts(grammar.next_piece(written), piece), (written, piece)
        written += piece
    assert written + "\n" == text


def _before(name: str, line: str) -> str:
    """The expert program of ``name`` up to (not including) the first line that starts with ``line``."""
    text = TASKS[name].expert
    return text[:text.index("\n" + line)]


@pytest.mark.parametrize("name, before, piece", [
    # execute: a queue popped twice, a value assigned twice, a value not defined, a store before the pops
    ("gather_rows", "    store out", "\n    %again = pop q_i"),
    ("gather_rows", "    store out", "\n    %i = pop q_row"),
    ("gather_rows", "    store out", "\n    %y = mul %nothing, 2.0"),
    ("gather_rows", "    %row = pop", "\n    store out[%i] = %i"),
    ("gather_rows", "    store out", "\n    store out[%i] = %i"),           # a scalar where a row is stored
    ("gather_rows", "    store out", "\n    store out[%row] = %row"),       # a row as an index
    ("gather_rows", "    store out", "\n    store table[%i] = %row"),       # only outputs are stored
    ("gather_rows", "    store out", "\n    %d = dot %i, %row"),            # dot takes rows
    ("gather_rows", "    store out", "\n  callback ROW:"),                  # the callback cannot end unpopped...
    # ... or once it did: a callback declared twice, a token nothing sends
    ("bag_sum", "  callback BAG:", "\n  callback ROW:"),
    ("bag_sum", "  callback BAG:", "\n  callback OTHER:"),
    ("bag_sum", "  callback BAG:", "\n    %t = read total"),               # ROW updates total: read it in BAG
    # queues: the kind and dtype of the stream pushed, only queues pushed, all of them before execute
    ("gather_rows", "  queue q_i", "\n  queue q_i: row f32"),
    ("gather_rows", "  queue q_i", "\n  queue q_other: scalar i64"),
    ("gather_rows", "  queue q_row", "\nexecute:"),
    ("gather_rows_i32", "  queue q_i", "\n  queue q_i: scalar i32"),
    # access: names defined once and before use, a load made once, layers in scope, every input read
    ("gather_rows", "  stream row", "\n  stream r = induction tu0"),
    ("gather_rows", "  stream row", "\n  stream r2 = load indices[i] @tu0"),
    ("gather_rows", "  stream row", "\n  stream row = load_row table[x] @tu0"),
    ("gather_rows", "  stream r ", "\n  on tu0.iter: token ROW"),              # indices not read yet
    ("gather_rows", "  stream row", "\n  stream row = load_row table[i] @tu1"),
    ("bag_sum", "  traversal tu1", "\n  traversal tu1 = range [b, j) in tu0"),
    ("bag_sum", "  on tu0.end", "\n  on tu0.iter when row:"),                  # a row is no guard
    ("bag_sum", "  on tu1.iter", "\nqueues:"),                                 # no rule yet
    # what SmolLM2 repeated under them: a unit with no stream before the next, a stream pushed twice a rule
    ("bag_sum", "  stream j", "\n  traversal tu2 = dense [0, num_rows) in tu1"),
    # ... and indices out of range for some input (dae_emulator.extents): a position among the indices as a
    # table row, an index loaded through a loaded index, offsets as indices, a store at another size's index
    ("gather_rows", "  stream r ", "\n  stream row = load_row table[i] @tu0"),
    ("gather_rows", "  stream row", "\n  stream r2 = load indices[r] @tu0"),
    ("gather_rows", "  stream row", "\n  stream p = prefetch_row out[r] @tu0"),
    ("bag_sum", "  traversal tu1", "\n  stream r = load indices[lo] @tu0"),
    ("bag_sum", "  stream lo", "\n  stream r = load indices[b] @tu0"),
    ("scatter_add_scalar", "  stream v", "\n  stream r2 = load indices[r] @tu0"),   # rows below 16, any indices
    # a dense loop walks a dimension of the signature (SmolLM2 wrote dense [0, 128000000))
    ("gather_rows", "  traversal", "\n  traversal tu0 = dense [0, 128000000)"),
    ("gather_rows", "  traversal", "\n  traversal tu0 = dense [0, num_indices + 1)"),
])
def test_what_the_verifier_refuses_the_next_piece_cannot_be(name, before, piece):
    grammar = scoped(name)
    assert not accepts(grammar.next_piece(_before(name, before)), piece)


def test_a_count_is_no_column():
    grammar = scoped("gather_rows")
    text = _before("gather_rows", "    store out") + "\n    %n = count"
    assert accepts(grammar.next_piece(text), "\n    store out[%n] = %row")
    assert not accepts(grammar.next_piece(text), "\n    store out[%n, %n] = %n")      # dim columns


def test_a_store_is_at_an_index_of_the_outputs_size():
    grammar = scoped("scatter_add_rows")
    text = TASKS["scatter_add_rows"].expert
    text = text[:text.index("\n    store_add")].replace("q_row <- row;", "q_row <- row, q_i <- i;").replace(
        "  queue q_row: row f32", "  queue q_row: row f32\n  queue q_i: scalar i64") + "\n    %i = pop q_i"
    assert accepts(grammar.next_piece(text), "\n    store_add grad_weight[%r] += %row")
    assert not accepts(grammar.next_piece(text), "\n    store_add grad_weight[%i] += %row")   # 16 rows


def test_a_stream_is_not_computed_twice():
    """What SmolLM2 repeated under the range check: one alu stream again and again (``and(i, 1)`` five times,
    ``mod(i, 1)`` eleven, then ``and(i, 10)``, ``and(i, 100)``), an input row prefetched where it is loaded,
    an empty range (found by real runs). Each is a stream the program has already, a constant, or none: a
    program can always be written without it. (Any constant here: a task's grammar takes only its own.)"""
    grammar = dataclasses.replace(scoped("gather_rows"), constants=None)
    text = _before("gather_rows", "  stream row")
    follows = grammar.next_piece(text)
    assert accepts(follows, "\n  stream k = alu eq(i, 1) @tu0")
    assert accepts(follows, "\n  stream k = alu sub(5, r) @tu0")
    assert accepts(follows, "\n  stream k = alu mod(i, $num_rows) @tu0")
    assert not accepts(follows, "\n  stream k = alu mod(r, $num_rows) @tu0")      # r < num_rows: r
    for constant in ("add(1, 2)", "add(i, -1)", "add(i, 01)", "and(i, 1)", "and(i, 10)", "and(1, i)", "mod(i, 1)",
                     "mul(i, 1)", "mul(1, i)", "add(i, 0)", "add(0, i)", "div(i, 1)", "and(i, $num_rows)",
                     "and(i, r)", "add(i, i)", "eq(r, r)"):
        assert not accepts(follows, f"\n  stream k = alu {constant} @tu0"), constant
    assert not accepts(follows, "\n  stream p = prefetch_row table[r] @tu0")  # loaded already
    follows = grammar.next_piece(text + "\n  stream k = alu eq(i, 1) @tu0")
    assert not accepts(follows, "\n  stream m = alu eq(i, 1) @tu0")
    assert accepts(follows, "\n  stream m = alu eq(i, 2) @tu0")
    assert accepts(follows, "\n  stream m = alu eq(r, 1) @tu0")
    follows = grammar.next_piece(text + "\n  stream k = alu sub(5, r) @tu0")
    assert not accepts(follows, "\n  stream m = alu sub(5, r) @tu0")
    assert accepts(follows, "\n  stream m = alu sub(r, 5) @tu0")
    two = text + "\n  stream k = alu eq(i, 1) @tu0\n  stream m = alu ne(r, 2) @tu0"
    assert not accepts(grammar.next_piece(two), "\n  stream n = alu and(k, m) @tu0")       # at most 2 a unit
    bag = _before("bag_sum", "  stream row").replace("  stream hi", "  stream e = alu eq(b, 0) @tu0\n  stream hi")
    follows = dataclasses.replace(scoped("bag_sum"), constants=None).next_piece(bag + "\n  stream keep = alu ne(r, 2) @tu1")
    assert accepts(follows, "\n  stream both = alu and(e, keep) @tu1")        # and takes truth values
    assert not accepts(follows, "\n  stream both = alu and(keep, keep) @tu1")
    assert not accepts(follows, "\n  stream both = alu and(keep, r) @tu1")
    bag = _before("bag_sum", "  traversal tu1")
    assert not accepts(scoped("bag_sum").next_piece(bag), "\n  traversal tu1 = range [lo, lo) in tu0")


def test_a_push_rule_pushes_a_new_tokens_new_queues_or_an_existing_tokens_own():
    grammar = scoped("bag_sum")
    text = _before("bag_sum", "  on tu0.end") + "\n  on tu0.end:"
    assert accepts(grammar.next_piece(text), " push q_b <- b")
    assert not accepts(grammar.next_piece(text), " push q_row <- b")         # q_row holds rows
    assert accepts(grammar.next_piece(text + " push q_row <- row"), "; token ROW")
    assert not accepts(grammar.next_piece(text + " push q_b <- b"), "; token ROW")     # ROW's queue is q_row
    assert not accepts(grammar.next_piece(text + " push q_b <- b"), ", q_b <- lo")     # a queue once a rule
    assert not accepts(grammar.next_piece(text + " push q_b <- b"), ", q_b_2 <- b")    # a stream once a rule
    assert accepts(grammar.next_piece(text + " push q_b <- b"), ", q_lo <- lo")
    again = _before("bag_sum", "  on tu0.end") + "\n  on tu1.iter:"
    assert not accepts(grammar.next_piece(again), " push q_row <- row")        # ROW is sent there already
    assert not accepts(grammar.next_piece(again + " push q_row <- row"), "; token ROW")


def test_a_name_does_not_go_on_from_a_taken_one():
    """SmolLM2 made each new name from the last: streams ``row``, ``row_idx``, ``row_idx_idx``,
    ``row_idx_idx1``, ..., values ``%f``, ``%f_``, ``%f_max``, ``%f_max_f``, ... (the recorded scoped run)."""
    text = _before("gather_rows", "  stream row")
    follows = scoped("gather_rows").next_piece(text)
    for name in ("r_idx", "r1", "i_", "i2", "tu0_i", "tu0i"):
        assert not accepts(follows, f"\n  stream {name} = alu add(r, 1) @tu0"), name
    for name in ("ri", "idx"):
        assert accepts(follows, f"\n  stream {name} = alu add(r, 1) @tu0"), name
    follows = scoped("gather_rows").next_piece(text + "\n  stream row = load_row table[r] @tu0")
    assert not accepts(follows, "\n  stream row_2 = alu add(r, 1) @tu0")
    callback = _before("gather_rows", "    store") + "\n    %y = mul %row, 2.0"
    follows = scoped("gather_rows").next_piece(callback)
    assert not accepts(follows, "\n    %y_ = mul %row, -1.0") and not accepts(follows, "\n    %y2 = mul %row, -1.0")
    assert accepts(follows, "\n    %z = mul %row, -1.0")


@pytest.mark.parametrize("name, allowed, refused", [
    ("gather_rows", ["0.0", "1", "1.0", "-1.0", "0"], ["2.0", "2", "0.5", "-2.0", "inf", "10"]),
    ("gather_padding_idx", ["2", "2.0", "-1"], ["3.0"]),        # padding_idx=2
])
def test_a_callback_writes_only_0_1_minus_1_and_the_tasks_numbers(name, allowed, refused):
    """SmolLM2 copies the prompt example's ``mul %row, 2.0`` into tasks that scale by nothing or by an
    input (the likelihood walk: that ``2`` was the costliest choice of 5 gather tasks)."""
    callback = _before(name, "    store")
    follows = scoped(name).next_piece(callback)
    for number in allowed:
        assert accepts(follows, f"\n    %z = mul %row, {number}"), number
    for number in refused:
        assert not accepts(follows, f"\n    %z = mul %row, {number}"), number


def test_a_program_with_a_prefetch_can_end():
    """A prefetch has no value that anything can use, and the queues could begin only once every stream was
    used: each of the 10 answers with a prefetch in the recorded scoped run ran to the token cap."""
    task = TASKS["scatter_add_rows"]
    text = task.expert.replace("  stream row", "  stream ahead = prefetch_row grad_weight[r] @tu0\n  stream row")
    written = scoped(task.name).prefix
    for piece in pieces(text.rstrip("\n"), written):
        assert accepts(scoped(task.name).next_piece(written), piece), piece
        written += piece
    assert task_constraint(task, "server").complete(written + "\n")


def test_a_unit_prefetches_one_output_row():
    """SmolLM2 prefetched rows it never loaded, three in a unit, and ``mod(i, $num_indices)`` where i is below
    num_indices already (8 samples of gather_relu under this session's grammars)."""
    text = _before("scatter_add_rows", "  stream row")
    follows = scoped("scatter_add_rows").next_piece(text)
    assert accepts(follows, "\n  stream ahead = prefetch_row grad_weight[r] @tu0")
    assert not accepts(follows, "\n  stream ahead = prefetch_row grad[i] @tu0")          # an input
    follows = scoped("scatter_add_rows").next_piece(text + "\n  stream ahead = prefetch_row grad_weight[r] @tu0")
    assert not accepts(follows, "\n  stream more = prefetch_row grad_weight[r] @tu0")
    follows = scoped("gather_rows").next_piece(_before("gather_rows", "  stream row"))
    assert not accepts(follows, "\n  stream m = alu mod(i, $num_indices) @tu0")        # i < num_indices: i
    assert accepts(follows, "\n  stream m = alu mod(i, $num_rows) @tu0")
    assert accepts(follows, "\n  stream m = alu mod(r, $num_indices) @tu0")


def test_a_units_row_loads_come_last():
    """SmolLM2 wrote streams nothing needed after its rows (``add(i, 1)``, ``add(i, 32)``, ``mul(r, i)``, a
    prefetch), each of which it then had to push (8 samples of gather_rows_i32)."""
    text = _before("gather_rows", "  on tu0.iter")
    follows = scoped("gather_rows").next_piece(text)
    for line in ("stream next = alu add(i, 1) @tu0", "stream ahead = prefetch_row out[i] @tu0", "stream n = load indices[r] @tu0"):
        assert not accepts(follows, "\n  " + line), line
    assert accepts(follows, "\n  on tu0.iter:") and accepts(follows, "\n  traversal tu1 = dense [0, num_indices) in tu0")
    before_row = scoped("gather_rows").next_piece(_before("gather_rows", "  stream row"))
    assert accepts(before_row, "\n  stream next = alu add(i, 1) @tu0")
    assert callback_constants(TASKS["gather_rows_i32"]) == ("0", "1", "-1")        # 32-bit is no number to use


def test_an_alu_op_takes_0_1_and_the_tasks_numbers():
    """SmolLM2 filled its streams with ``mod(i, 2)``, ``mod(i, 20)``, ``mod(i, 200)``, ``add(i, 21)``: numbers
    no task states (8 samples of gather_relu and gather_rows under this session's grammars)."""
    text = _before("gather_padding_idx", "  stream keep")
    follows = scoped("gather_padding_idx").next_piece(text)       # padding_idx=2
    for op in ("eq(r, 1)", "ne(r, 2)", "lt(r, 0)", "add(1, r)"):
        assert accepts(follows, f"\n  stream m = alu {op} @tu0"), op
    for op in ("mod(i, 20)", "add(i, 21)", "ne(r, 3)", "sub(5, r)"):
        assert not accepts(follows, f"\n  stream m = alu {op} @tu0"), op


def test_a_dense_loop_walks_a_first_dimension():
    """SmolLM2 looped over ``dim`` (then again inside it): nothing takes an index below ``dim``, since a row
    is loaded and stored whole."""
    follows = scoped("gather_rows").next_piece(scoped("gather_rows").prefix)
    for size in ("num_indices", "num_rows"):
        assert accepts(follows, f"\n  traversal tu0 = dense [0, {size})")
    assert not accepts(follows, "\n  traversal tu0 = dense [0, dim)")


def test_a_row_load_and_only_a_row_load_is_named_row():
    """SmolLM2 names the stream after the induction ``row``, as the prompt's example names its row load, even
    where it loads an index (the likelihood walk, and the recorded scoped run: ``stream row = load
    indices[i]``, then ``row_idx = load_row table[row]``)."""
    text = _before("gather_rows", "  stream r ")
    follows = scoped("gather_rows").next_piece(text)
    for name in ("row", "rows", "row_i"):
        assert not accepts(follows, f"\n  stream {name} = load indices[i] @tu0"), name
    assert accepts(follows, "\n  stream r = load indices[i] @tu0") and accepts(follows, "\n  stream ro = load indices[i] @tu0")
    follows = scoped("gather_rows").next_piece(text + "\n  stream r = load indices[i] @tu0")
    assert accepts(follows, "\n  stream row = load_row table[r] @tu0") and accepts(follows, "\n  stream rowx = load_row table[r] @tu0")
    assert not accepts(follows, "\n  stream x = load_row table[r] @tu0")


def test_a_queue_is_named_after_its_stream_and_popped_into_its_name():
    """SmolLM2's own queue names steered what it pushed: ``q_row_row_16`` got the row, ``q_i_i_`` an index
    (the recorded scoped run). The grammar gives a new queue's name: ``q_`` and its first stream's
    (``_2`` where that is taken), and the value a callback pops it into: the stream's name."""
    grammar = scoped("gather_rows")
    text = _before("gather_rows", "  on tu0.iter") + "\n  on tu0.iter:"
    follows = grammar.next_piece(text)
    assert accepts(follows, " push q_row <- row") and accepts(follows, " push q_i <- i")
    for item in ("q_x <- row", "q_row_row_16 <- row", "q_i <- row", "q_row <- i"):
        assert not accepts(follows, f" push {item}"), item
    both = _before("gather_rows", "  on tu0.iter") + "\n  on tu0.iter: push q_i <- i; token A\n  on tu0.end:"
    assert accepts(grammar.next_piece(both), " push q_i_2 <- i")     # i's second queue, for another token
    assert not accepts(grammar.next_piece(both), " push q_i <- i; token B")
    again = both.replace("tu0.end:", "tu0.iter:")     # SmolLM2 pushed i and row on tu0.iter again and again
    assert not accepts(grammar.next_piece(again), " push q_i_2 <- i") and accepts(grammar.next_piece(again), " push q_row <- row")
    callback = _before("gather_rows", "    %i = pop")
    follows = grammar.next_piece(callback)
    assert accepts(follows, "\n    %i = pop q_i") and accepts(follows, "\n    %row = pop q_row")
    for line in ("%x = pop q_i", "%row = pop q_i", "%i = pop q_row", "%row = count", "%i_ = count"):
        assert not accepts(follows, f"\n    {line}"), line
    assert accepts(follows, "\n    %n = count")


def test_a_rule_is_begun_only_where_some_token_can_end_it():
    """SmolLM2 under the piece grammars sent 4 tokens (the most) on tu0.iter and began another rule there,
    which no piece could finish: its answer stopped at ``on tu0.iter:`` (found by the real run)."""
    grammar = scoped("bincount")
    text = _before("bincount", "  on tu0.iter")
    text += "\n  stream keep = alu ne(r, 2) @tu0\n  stream m = alu eq(i, 1) @tu0"
    for token, stream in zip("ABCD", ("i", "r", "keep", "m")):
        text += f"\n  on tu0.iter: push q_{stream} <- {stream}; token {token}"
    follows = grammar.next_piece(text)
    assert not accepts(follows, "\n  on tu0.iter:")
    assert accepts(follows, "\n  on tu0.end:") and accepts(follows, "\n  on tu0.iter when keep:")
    assert not accepts(follows, "\n  on tu0.iter when r:")      # a guard is a truth value: when ne(r, 0)


def test_a_rule_pushes_a_queue():
    """SmolLM2 began rules that only sent a new token (``on tu0.iter: token indicex``, four in a row), each
    a callback with nothing to pop (8 samples of gather_rows_i32). Every expert program's rules push."""
    text = _before("gather_rows", "  on tu0.iter") + "\n  on tu0.iter:"
    follows = scoped("gather_rows").next_piece(text)
    assert not accepts(follows, " token X") and accepts(follows, " push q_i <- i")
    full = _before("gather_rows", "  on tu0.iter") + "\n  on tu0.iter: push q_i <- i, q_row <- row; token ROW"
    follows = scoped("gather_rows").next_piece(full + "\n  on tu0.end:")
    assert not accepts(follows, " token X")
    assert accepts(follows, " push q_i_2 <- i") and accepts(follows, " push q_i <- i")     # ROW from here too


def test_every_stream_can_still_be_pushed():
    """A rule that an event sends a new token only where it sends none yet left SmolLM2's streams unpushable:
    each event had sent its token, no rule could begin, and the queues could not either while a stream was
    unused (found by a real run, gather_scale). A rule may send a new token from such an event."""
    grammar = scoped("gather_scale")
    text = _before("gather_scale", "  on tu0.iter") + (
        "\n  stream t = alu add(r, 1) @tu0\n  on tu0.iter: push q_s <- s, q_t <- t; token T"
        "\n  on tu0.end: push q_s <- t, q_t <- s; token T")
    assert accepts(grammar.next_piece(text), "\n  on tu0.iter:")
    assert accepts(grammar.next_piece(text + "\n  on tu0.iter:"), " push q_row <- row")


def test_no_stream_line_is_begun_where_no_stream_can_be_made():
    """SmolLM2 began ``stream x =`` where no load fit and the unit had its 2 alu streams: nothing could follow
    (found by the real run, gather_rows)."""
    grammar = scoped("gather_rows")
    text = grammar.prefix + ("\n  traversal tu0 = dense [0, num_rows)\n  stream i = induction tu0"
                             "\n  stream row = load_row table[i] @tu0\n  stream a = alu mod(i, 2) @tu0"
                             "\n  stream b = alu mod(i, 256) @tu0")
    assert not begins(grammar.next_piece(text), "\n  stream ")


def test_a_stream_may_be_named_token():
    """SmolLM2 named a queue ``token``; the rule then looked finished (it holds ' token '), no piece could
    follow, and the answer stopped mid-rule (found by the real run). A queue is named after its stream now,
    and a stream may still be named ``token``."""
    grammar = scoped("gather_rows")
    text = _before("gather_rows", "  on tu0.iter").replace(" i ", " token ").replace("[i]", "[token]")
    text += "\n  on tu0.iter: push q_token <- token"
    assert accepts(grammar.next_piece(text), ", q_row <- row")
    assert accepts(grammar.next_piece(text + ", q_row <- row"), "; token ROW")


def test_a_store_has_an_index_even_when_every_index_is_stored():
    """SmolLM2 stored counts[%i] and counts[%i_1], after which the store's index alternatives were empty and
    the grammar let ``store_max counts[] max= ...`` through (found by the real run)."""
    grammar = scoped("moe_expert_counts")
    text = _before("moe_expert_counts", "  callback") + (
        "\n  callback SLOT:\n    %i = pop q_k\n    %j = mul %i, 2.0"
        "\n    store counts[%j] = %j\n    store counts[%i] = %j")
    follows = grammar.next_piece(text)
    assert follows is None or not accepts(follows, "\n    store_max counts[] max= %j")
    assert follows is None or not accepts(follows, "\n    ")        # nor an empty instruction (it let one)
