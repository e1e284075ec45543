"""Reordering the choices of multiple-choice items: scores move when the choices are reordered,
so every multiple-choice benchmark can be asked k times, with k deterministic permutations
(`permutation_runs`); `eval.metrics.aggregate` then gives the mean, std, min and max of the k
scores (`over_runs`) and the share of items right under all of them (`consistency`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from eval.data import Item
from eval.public.choices import Render


@dataclass(frozen=True)
class Permutation:
    index: int                  # which of the k reorderings (0 = the published order)
    order: tuple[int, ...]      # order[new position] = position in the published list
    choices: list[str]          # the choices in the new order
    answer_index: int           # the correct choice's new position


def permute_choices(item: Item, k: int, seed: int = 0) -> list[Permutation]:
    """k reorderings of the item's choices, the same for the same (item id, seed).

    The first is the published order; the others are distinct random orders while there are
    any left (n choices have n! orders), then the list repeats from the start.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    ref = item.reference
    n = len(ref["choices"])
    rng = random.Random(f"{seed}:{item.id}")
    distinct: list[tuple[int, ...]] = [tuple(range(n))]
    while len(distinct) < min(k, math.factorial(n)):
        order = tuple(rng.sample(range(n), n))
        if order not in distinct:
            distinct.append(order)
    out = []
    for j in range(k):
        order = distinct[j % len(distinct)]
        out.append(Permutation(j, order, [ref["choices"][i] for i in order], order.index(ref["answer_index"])))
    return out


def permuted_item(item: Item, perm: Permutation, render: Render) -> Item:
    """The item asked with its choices in the order of `perm` (id suffixed `#p<j>`)."""
    ref = {**item.reference, "choices": perm.choices, "answer_index": perm.answer_index, "order": list(perm.order)}
    return replace(item, id=f"{item.id}#p{perm.index}", question=render(ref["question"], perm.choices),
                   reference=ref, info={**item.info, "permutation": perm.index})


def permutation_runs(items: list[Item], k: int, seed: int, render: Render) -> list[list[Item]]:
    """k runs of the benchmark: run j asks every item with its j-th reordering of the choices."""
    perms = [permute_choices(it, k, seed) for it in items]
    return [[permuted_item(it, p[j], render) for it, p in zip(items, perms)] for j in range(k)]
