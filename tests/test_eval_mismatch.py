"""The mismatched-audio baseline's pairing: another item's clip(s), never the item's own, as many as it
has, a different reference when there is one, the same pairing for any --limit subset."""

from __future__ import annotations

from eval.benchmark_run import queries_for
from eval.data import AudioRef, Item
from eval.mismatch import pair_clips, reference_key
from eval.runners import AUDIO, MISMATCHED, NO_AUDIO, Decoding


def _item(i: str, clips: list[str], label: str, question: str = "What is it?") -> Item:
    return Item(i, [AudioRef(c) for c in clips], question, {"label": label})


def _pool() -> list[Item]:
    return [_item("a", ["a.wav"], "dog"), _item("b", ["b.wav"], "dog"), _item("c", ["c.wav"], "rain"),
            _item("d", ["d.wav"], "bell"), _item("e", ["e.wav"], "rain"),
            _item("ab", ["a.wav", "b.wav"], "first"), _item("cd", ["c.wav", "d.wav"], "second")]


def test_never_the_own_clip_same_count_other_reference():
    pool = _pool()
    pairs = pair_clips(pool, pool, seed=0)
    by_id = {it.id: it for it in pool}
    for it in pool:
        donor = pairs[it.id]
        assert donor is not None and len(donor) == len(it.audio)
        assert not set(donor) & set(it.audio)
        donors = [d for d in pool if tuple(d.audio) == donor]
        assert donors and all(reference_key(d) != reference_key(it) for d in donors)
    # two-clip items take the other two-clip item's clips (no overlap with their own)
    assert pairs["ab"] == tuple(by_id["cd"].audio) and pairs["cd"] == tuple(by_id["ab"].audio)
    # a dog clip is never answered with the other dog clip
    assert pairs["a"] != (AudioRef("b.wav"),) and pairs["b"] != (AudioRef("a.wav"),)


def test_deterministic_and_the_same_for_any_subset():
    pool = _pool()
    full = pair_clips(pool, pool, seed=3)
    assert pair_clips(list(reversed(pool)), pool, seed=3) == full
    subset = pair_clips(pool[2:4], pool, seed=3)
    assert subset == {k: full[k] for k in ("c", "d")}
    seeds = {tuple(sorted((k, v) for k, v in pair_clips(pool, pool, seed=s).items())) for s in range(6)}
    assert len(seeds) > 1  # the seed changes the pairing


def test_rules_relax_in_order_and_fail_honestly():
    same = [_item("x", ["x.wav"], "dog"), _item("y", ["y.wav"], "dog")]
    assert pair_clips(same, same) == {"x": (AudioRef("y.wav"),), "y": (AudioRef("x.wav"),)}  # same reference
    lone_pair = [_item("xy", ["x.wav", "y.wav"], "first"), _item("z", ["z.wav"], "dog"), _item("w", ["w.wav"], "cat")]
    gathered = pair_clips(lone_pair, lone_pair)["xy"]  # no other two-clip item: clips of two others
    assert sorted(a.path for a in gathered) == ["w.wav", "z.wav"]
    # a clip shared by every item (or a single item) leaves nothing to pair with
    shared = [_item("p", ["s.wav"], "dog", "Is there a dog?"), _item("q", ["s.wav"], "cat", "Is there a cat?")]
    assert pair_clips(shared, shared) == {"p": None, "q": None}
    assert pair_clips(shared[:1], shared[:1]) == {"p": None}


def test_reference_key_uses_question_and_answer():
    yes_dog = Item("1", [], "Is there a dog?", {"answer": "yes", "mode": "random"})
    yes_cat = Item("2", [], "Is there a cat?", {"answer": "yes", "mode": "random"})
    assert reference_key(yes_dog) != reference_key(yes_cat)
    mc = Item("3", [], "prompt with choices", {"question": "Who?", "choices": ["a", "b"], "answer": "a"})
    reordered = Item("4", [], "another rendering", {"question": "Who?", "choices": ["b", "a"], "answer": "a"})
    assert reference_key(mc) == reference_key(reordered)


def test_queries_ask_the_donor_clips_or_leave_the_baseline_out():
    pool = _pool()
    dec = Decoding(max_new_tokens=4)
    queries = queries_for(pool[:2], pair_clips(pool, pool), dec)
    assert [q.condition for q in queries["model"]] == [AUDIO, AUDIO]
    assert all(q.condition == NO_AUDIO and q.clips == () for q in queries["no_audio"])
    mismatched = queries["mismatched_audio"]
    assert all(q.condition == MISMATCHED and q.clips == q.audio for q in mismatched)
    assert [q.question for q in mismatched] == [it.question for it in pool[:2]]
    assert mismatched[0].audio != tuple(pool[0].audio)
    assert "mismatched_audio" not in queries_for(pool[:1], {"a": None}, dec)
