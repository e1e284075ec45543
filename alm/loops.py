"""Repetition loops in generated answers, found so that generation stops at them.

A small LLM decoding greedily can fall into a loop it never leaves ("She says she says she says ..." until the
token limit): the answer is noise from there on and every further token is time spent for nothing. Whisper treats
a decode whose text compresses too well as failed; here a loop is the tail of an answer that is one block of tokens
repeated back to back, long enough that real text almost never does it:

- at least `MIN_REPEATS` copies of the block (3: a sentence said twice is kept), and
- at least `MIN_LOOP_TOKENS` tokens in the copies after the first (24: "no, no, no" and "ha ha ha ha" are kept).

`LoopGuard` watches the rows of one generation token by token and says which rows are in such a loop; the decoders
(`alm.inference`, `alm.fast_llm`) end those rows there. The answer keeps what came before the loop was seen, so it is
the same text whether it is streamed or not.
"""

from __future__ import annotations

from typing import Sequence

import torch

MIN_REPEATS = 3        # copies of the block, the first included
MIN_LOOP_TOKENS = 24   # tokens in the copies after the first
MAX_BLOCK = 48         # the longest block (tokens) looked for
# what answers depend on: part of evaluation's cache key, so answers from before a change are not reused
SETTINGS = {"min_repeats": MIN_REPEATS, "min_loop_tokens": MIN_LOOP_TOKENS, "max_block": MAX_BLOCK}


def loop_tokens(ids: Sequence[int]) -> int:
    """How many tokens at the end of `ids` repeat the block before them, when they make a loop (see the module
    docstring); 0 when the tail is not one."""
    n = len(ids)
    for p in range(1, min(MAX_BLOCK, n // MIN_REPEATS) + 1):
        if ids[n - 1] != ids[n - 1 - p] or ids[n - p:] != ids[n - 2 * p:n - p]:  # the last token first: cheap
            continue
        copies = 2
        while (copies + 1) * p <= n and ids[n - (copies + 1) * p:n - copies * p] == ids[n - p:]:
            copies += 1
        if copies >= MIN_REPEATS and (copies - 1) * p >= MIN_LOOP_TOKENS:
            return (copies - 1) * p
    return 0


class LoopGuard:
    """The new tokens of each row of one generation, and where each row fell into a loop."""

    def __init__(self, rows: int):
        self.tokens: list[list[int]] = [[] for _ in range(rows)]
        self.ended_at: list[int | None] = [None] * rows  # a looping row's token count when the loop was seen

    def update(self, token: torch.Tensor) -> torch.Tensor:
        """Takes each row's next token (B,); returns (B,) bool: the rows whose answer has ended in a loop (the row
        should end here; what a decoder adds to it afterwards is padding)."""
        for r, (row, t) in enumerate(zip(self.tokens, token.tolist())):
            row.append(t)
            if self.ended_at[r] is None and loop_tokens(row):
                self.ended_at[r] = len(row)
        return torch.tensor([at is not None for at in self.ended_at], dtype=torch.bool, device=token.device)
