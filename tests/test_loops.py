"""Repetition loops (`alm.loops`): which tails are loops, and every decoder ending an answer where its loop is seen,
the same whether the answer is batched, streamed, or decoded by FastLlama or transformers' generate."""

import pytest
import torch

from conftest import tone

from alm.inference import Assistant, SamplingParams, merge_lora
from alm.loops import MIN_LOOP_TOKENS, LoopGuard, loop_tokens

QUESTION = [{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": "What is said?"}]}]


def test_a_block_repeated_long_enough_is_a_loop():
    assert loop_tokens([7] * (MIN_LOOP_TOKENS + 1)) == MIN_LOOP_TOKENS  # one token, 25 times
    assert loop_tokens([9, 8] + [1, 2] * 13) == 24  # "she says" 13 times after another start
    assert loop_tokens(list(range(12)) * 3) == 24  # a 12-token sentence three times


@pytest.mark.parametrize("ids", [
    [7] * MIN_LOOP_TOKENS,              # "ha ha ha ...", 24 times: not yet
    [1, 2] * 12,                        # "she says" 12 times: 22 repeated tokens
    list(range(30)) * 2,                # a long sentence said twice
    list(range(10)) * 3,                # a 10-token sentence three times: 20 repeated tokens
    [1, 2] * 13 + [3],                  # a loop that was left
    list(range(100)),                   # nothing repeats
    [],
])
def test_short_repeats_and_text_that_moves_on_are_not_loops(ids):
    assert loop_tokens(ids) == 0


def test_the_guard_marks_each_row_where_its_loop_is_first_seen():
    guard = LoopGuard(2)
    rows = [[5] * 40, list(range(40))]
    for step in range(40):
        looping = guard.update(torch.tensor([rows[0][step], rows[1][step]]))
        assert looping.tolist() == [step >= MIN_LOOP_TOKENS, False]
    assert guard.ended_at == [MIN_LOOP_TOKENS + 1, None]


def _cycling(model) -> None:
    """Rewires the merged LLM so its next token is a function of the last one alone, a permutation of 3-cycles
    (t -> t+1 -> t+2 -> t in blocks of three): attention and MLP add nothing to the residual stream (their output
    projections are zero), and the output row of token pi(t) is token t's embedding, so greedy decoding, from any
    prompt, cycles three tokens for ever."""
    llm = model.language_model
    with torch.no_grad():
        for layer in llm.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embeddings = llm.model.embed_tokens.weight
        vocab = embeddings.shape[0] - embeddings.shape[0] % 3
        source = torch.arange(embeddings.shape[0])  # source[j]: the token whose next token is j
        source[:vocab] = (source[:vocab] // 3) * 3 + (source[:vocab] - 1) % 3
        llm.lm_head.weight = torch.nn.Parameter(embeddings[source].clone())  # untied from the embeddings


def _loop_start(tokens: list[int]) -> int | None:
    """The token count at which `tokens` first ends in a loop."""
    return next((k for k in range(1, len(tokens) + 1) if loop_tokens(tokens[:k])), None)


@pytest.mark.parametrize("decoder", ["fast", "generate"])
def test_an_answer_ends_where_its_loop_is_seen_batched_or_streamed(tiny_model, decoder):
    model, processor = tiny_model()
    merge_lora(model)
    _cycling(model)
    assistant = Assistant(model, processor, decoder=decoder)
    params = SamplingParams(max_new_tokens=96)
    clip = tone(440, 1.0)
    from alm.conversation import Conversation

    conv = assistant.with_notes(Conversation(QUESTION, [clip], ["hello"]))
    raw = assistant._generate(assistant._inputs([conv]), assistant._generate_kwargs(params), None)[0].tolist()
    start = _loop_start(raw)
    assert start is not None and not set(raw[:start]) & set(assistant.eos_ids), \
        "the rewired model's greedy answer should loop before it ends (the case under test)"
    answer = assistant.answer(QUESTION, [clip], params, ["hello"])
    assert answer.completion_tokens == start < params.max_new_tokens and answer.finish_reason == "stop"
    assert answer.text == processor.decode(raw[:start]).strip()
    batched = assistant.answer_batch([conv, Conversation(QUESTION, [tone(880, 0.5)], ["hi"])], params)[0]
    assert (batched.text, batched.completion_tokens) == (answer.text, answer.completion_tokens)
    stream = assistant.answer_stream(QUESTION, [clip], params, ["hello"])
    assert "".join(stream).strip() == answer.text
    assert (stream.answer.completion_tokens, stream.answer.finish_reason) == (start, "stop")
