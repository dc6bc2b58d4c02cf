"""How likely a model is to write a given program for a task under scoped decoding, choice by choice.

Sampling counts how often a model solves a task; when it solves none, the count says nothing about where it
goes wrong or whether a change to the prompt or the grammar helps. This walks a right program (a task's
expert program) through ``scoped_decoding``'s masks with the model reading along. At each token the model
chooses, it takes the probability (at the sampling temperature, under the mask) that the model stays on
the program's text: the mass of every allowed token that continues it, since several spell the same text
("\n", "\n ", "\n  ", ...); the walk goes on along the model's preferred one. A token the grammar forces
costs nothing. The sum estimates the log-probability that sampling writes this program (it takes the
other spellings to go on as the preferred one does).

Names are the model's own: where the program defines a name (a stream, traversal, token, accumulator or
computed value), the model's most likely name under the mask is written instead and the program renamed to
it, since a renamed program is as right. Queue names and popped values are the grammar's
(``scoped_names.queue_name``): the program must have them already, and which queue is pushed or popped
there is a choice it counts. The model's own names are kept apart (``Choice.naming``) and
not counted, and what follows is read after the model's own names. Sampling draws names instead, and a
drawn name steers what follows, so where names matter the walk overstates what sampling gets (SmolLM2 on
``gather_rows_i32`` with a copy program as the prompt's example: e^-2.4 here, 0 right in 16 samples);
the program's free orders, taken as written, count the other way. Top-p is not applied: a token outside
the head gets its tempered probability, not zero.
"""
from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass

import torch

from dae_emulator import parse_program
from dae_emulator.program import OpKind, Program, StreamKind

from dae_emulator.scoped_names import ROW, pop_value, queue_name

from .scoped_decoding import PieceDecoder, Reader

_WORD = re.compile(r"%?[A-Za-z_]\w*")
_NAME_CHARS = re.compile(r"\w+")
_MARK = "\x00"            # placeholders for the names still to be chosen: never in a token's text


@dataclass(frozen=True)
class Choice:
    line: str           # the program's line before this token
    token: str          # the token the program takes here
    log_p: float        # log-probability of staying on the program's text here (any spelling)
    preferred: str      # the model's most likely allowed token here
    naming: bool        # a token of a name the program defines (the model's own name, not counted)


@dataclass(frozen=True)
class Likelihood:
    text: str                       # the program as written, in the model's own names
    choices: tuple[Choice, ...]
    complete: bool                  # the answer can end there (the program passes every static check)

    @property
    def log_p(self) -> float:
        """Log-probability of writing this program, names aside (-inf where it cannot end there)."""
        return sum(c.log_p for c in self.choices if not c.naming) if self.complete else -math.inf

    def worst(self, count: int = 3) -> list[Choice]:
        return sorted((c for c in self.choices if not c.naming), key=lambda c: c.log_p)[:count]


class NameKind(enum.Enum):
    TRAVERSAL = "traversal"
    STREAM = "stream"
    ROW_LOAD = "row load"       # a stream that loads rows
    ACCUMULATOR = "accumulator"
    TOKEN = "token"
    VALUE = "value"


def defined_names(program: Program) -> dict[str, NameKind]:
    """The names a program defines that the model chooses (values with their ``%``), with their kinds;
    parameters and sizes are the task's, queues and popped values the grammar's."""
    kinds = [(NameKind.TRAVERSAL, [t.name for t in program.traversals]),
             (NameKind.STREAM, [s.name for s in program.streams if s.kind is not StreamKind.LOAD_ROW]),
             (NameKind.ROW_LOAD, [s.name for s in program.streams if s.kind is StreamKind.LOAD_ROW]),
             (NameKind.ACCUMULATOR, [a.name for a in program.accumulators]), (NameKind.TOKEN, [r.token for r in program.rules]),
             (NameKind.VALUE, ["%" + i.result for cb in program.callbacks for i in cb.body
                               if i.result and i.op is not OpKind.POP])]
    return {name: kind for kind, names in kinds for name in names}


def template(text: str) -> tuple[str, tuple[NameKind, ...]]:
    """``text`` with each name the model chooses replaced by a numbered placeholder, and the kind of each. A
    queue's name and its popped value follow their stream's (``q_row``, ``%row``): the stream's placeholder
    stands in them. A word after ``": "`` is a kind (``queue q: row f32``), not a name."""
    program = parse_program(text)
    names = defined_names(program)
    numbers: dict[str, int] = {}
    named_after: dict[str, tuple[str, str]] = {}        # a queue or popped value: (its stream, what follows it)
    for rule in program.rules:
        for queue, stream in rule.pushes:
            given = queue_name(stream, ())
            if queue.startswith(given) and queue not in named_after:
                named_after[queue] = named_after["%" + pop_value(queue)] = (stream, queue[len(given):])

    def numbered(word: str) -> str:
        return f"{_MARK}{numbers.setdefault(word, len(numbers))}{_MARK}"

    def placeholder(match: re.Match) -> str:
        word = match.group(0)
        if text[max(match.start() - 2, 0):match.start()] == ": ":
            return word
        if word in named_after:
            stream, rest = named_after[word]
            queue = queue_name(numbered(stream), ()) + rest
            return "%" + pop_value(queue) if word.startswith("%") else queue
        if word not in names:
            return word
        return word[:len(word) - len(word.lstrip("%"))] + numbered(word)

    return _WORD.sub(placeholder, text), tuple(names[word] for word in numbers)


def likelihood(model, tokenizer, compile_grammar, constraint, vocab_size: int, prompt_ids: torch.Tensor,
               program: str, temperature: float) -> Likelihood | None:
    """The choices that writing ``program`` (a program starting with the constraint's prefix) takes from
    ``model`` after ``prompt_ids``; None where the mask refuses the program's text."""
    decoder = PieceDecoder(compile_grammar, constraint, vocab_size)
    if not program.startswith(decoder.text):
        raise ValueError("the program does not start with the task's prefix")
    rest, kinds = template(program)
    rest = rest[len(decoder.text):].rstrip("\n")
    prefix = tokenizer.encode(decoder.text, add_special_tokens=False)
    reader = Reader(model, torch.cat([prompt_ids, torch.tensor([prefix])], dim=1))
    stop, choices = tokenizer.eos_token_id, []
    name = None             # the model's name so far, while it writes one (``rest`` then starts at its placeholder)
    kind = None             # the kind of the name it writes next
    chosen = set()          # (kind, name) of those it wrote: a rule may also name a token it has, but the
                            # program's rule makes a new one
    while True:
        mask, ending = decoder.allowed(stop)
        choosing = int(mask.sum()) > 1
        log_p = torch.log_softmax(reader.logits().masked_fill(~mask, -math.inf) / temperature, dim=-1) \
            if choosing else torch.zeros(vocab_size)
        preferred = tokenizer.decode([int(log_p.argmax())]) if choosing else ""
        if not rest:                    # the program is written: the answer ends here, or cannot
            if not ending.any():
                return Likelihood(decoder.text, tuple(choices), False)
            ends = float(torch.logsumexp(log_p[ending], dim=0))
            choices.append(Choice(decoder.text.rsplit("\n", 1)[-1], "(the end)", min(ends, 0.0), preferred, False))
            return Likelihood(decoder.text, tuple(choices), True)
        allowed = (mask & ~ending).nonzero().flatten().tolist()
        texts = {t: tokenizer.decode([t]) for t in allowed}
        literal, placeholder, after = _split(rest)
        if placeholder is not None:
            kind = kinds[int(placeholder.strip(_MARK))]
        if name is not None:          # go on with the name, or end it with the text that follows it
            literal, after = "", _split(after)[0]
            going_on = [t for t in allowed if _NAME_CHARS.fullmatch(texts[t]) and _may_name(kind, name + texts[t], chosen)]
            options = going_on + [t for t in allowed if texts[t] and after.startswith(texts[t])
                                  and _may_name(kind, name, chosen, ending=True)]
        else:
            going_on = []
            if placeholder is not None and not literal.strip(" %"):      # a name may begin in this token
                going_on = [t for t in allowed if texts[t].startswith(literal) and len(texts[t]) > len(literal)
                            and _NAME_CHARS.fullmatch(texts[t][len(literal):]) and not texts[t][len(literal)].isdigit()
                            and _may_name(kind, texts[t][len(literal):], chosen)]
            options = going_on + [t for t in allowed if texts[t] and literal.startswith(texts[t])]
        if not options:
            return None
        token = max(options, key=lambda t: float(log_p[t]))
        text = texts[token]
        naming = name is not None or bool(going_on) or placeholder is not None and not literal.strip(" %")
        staying = float(torch.logsumexp(log_p[options], dim=0))      # every spelling that stays on the text
        choices.append(Choice(decoder.text.rsplit("\n", 1)[-1], text, min(staying, 0.0), preferred, naming))
        decoder.accept(token, text)
        reader.write(token)
        if token in going_on:          # the name begins or goes on
            name, rest = (name or "") + text[len(literal):], rest[len(literal):]
        elif name is not None:         # the name ended: the program takes it, and the text goes on
            rest = rest[len(placeholder):].replace(placeholder, name)[len(text):]
            if kind is NameKind.TOKEN:
                chosen.add((kind, name))
            name = None
        else:
            rest = rest[len(text):]


def _may_name(kind: NameKind, name: str, chosen: set, ending: bool = False) -> bool:
    """Whether the model may write ``name`` (or, unless ``ending``, a name starting so) for a name of ``kind``:
    not one it wrote for another of its kind, and a row load's and only a row load's name starts with ``row``,
    as the grammar asks (it gives other streams other names, which then cannot load a row)."""
    if (kind, name) in chosen:
        return False
    if kind is NameKind.ROW_LOAD:
        return name.startswith(ROW) or (not ending and ROW.startswith(name))
    return kind is not NameKind.STREAM or not name.startswith(ROW)


def _split(rest: str) -> tuple[str, str | None, str]:
    """The text before the first placeholder, the placeholder, the text after it."""
    found = re.search(f"{_MARK}\\d+{_MARK}", rest)
    return (rest, None, "") if found is None else (rest[:found.start()], found.group(0), rest[found.end():])
