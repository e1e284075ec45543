"""The fast paths of issue 12 give what the reference paths give: FastLlama's tokens equal transformers' generate
(batched and padded too), the fast Assistant (merged LoRA, audio cache, FastLlama) answers as the reference one,
training batches from stored ids and cached frames equal the full collation, and the small deciders (device,
dtype, loader workers, transcriber backend, no-speech gate, CTranslate2 vocabulary) decide as documented.
No timings are asserted."""

import json

import numpy as np
import pytest
import torch
from transformers import LlamaForCausalLM

from conftest import tiny_llama_config, tone
from test_training_engine import corpus, stage  # noqa: F401 - fixtures

from alm.conversation import Conversation
from alm.fast_llm import FastLlama, supports
from alm.inference import Assistant, SamplingParams, choose_decoder, merge_lora

QUESTION = [{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": "What do you hear?"}]}]


def _llm(seed=0, **over):
    torch.manual_seed(seed)
    return LlamaForCausalLM(tiny_llama_config(96).__class__(**{**tiny_llama_config(96).to_dict(), **over})).eval()


def _hf_greedy(llm, embeds, mask, n):
    out = llm.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=n, min_new_tokens=n,
                       do_sample=False, eos_token_id=None, pad_token_id=0)
    return out


@pytest.mark.parametrize("tied", [True, False])
def test_fast_llama_greedy_tokens_equal_generate_batched_and_padded(tied):
    llm = _llm(tie_word_embeddings=tied)
    torch.manual_seed(1)
    embeds = torch.randn(3, 7, 64)
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[1, :2] = 0  # left padding
    mask[2, :5] = 0
    fast = FastLlama(llm)
    tokens = torch.stack(list(fast.generate(embeds, mask, 12, eos_token_id=[-1])), 1)
    assert torch.equal(tokens, _hf_greedy(llm, embeds, mask, 12))
    for row in range(3):  # a padded row answers as it does alone
        keep = mask[row].bool()
        alone = torch.stack(list(fast.generate(embeds[row:row + 1, keep], mask[row:row + 1, keep], 12, [-1])), 1)
        assert torch.equal(alone[0], tokens[row])


def test_fast_llama_stops_rows_at_end_ids_and_on_request():
    llm = _llm()
    embeds = torch.randn(1, 5, 64)
    mask = torch.ones(1, 5, dtype=torch.long)
    first = list(FastLlama(llm).generate(embeds, mask, 8, eos_token_id=[-1]))
    ended = list(FastLlama(llm).generate(embeds, mask, 8, eos_token_id=[int(first[2])]))
    assert len(ended) == 3 and int(ended[-1]) == int(first[2])
    calls = []
    stopped = list(FastLlama(llm).generate(embeds, mask, 8, [-1], stop=lambda: calls.append(1) or len(calls) >= 2))
    assert len(stopped) == 2


def test_fast_llama_sampling_is_seeded_and_top_p_keeps_the_top_token():
    llm = _llm()
    embeds, mask = torch.randn(1, 5, 64), torch.ones(1, 5, dtype=torch.long)
    fast = FastLlama(llm)
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        runs.append([int(t) for t in fast.generate(embeds, mask, 6, [-1], do_sample=True, temperature=0.8, top_p=0.9)])
    assert runs[0] == runs[1]
    logits = torch.tensor([[0.0, 5.0, 1.0]])
    assert int(FastLlama._choose(logits, True, 1.0, 1e-6)) == 1


def test_supports_only_plain_llamas(tiny_model):
    model, _ = tiny_model()
    assert not supports(model.language_model)  # peft-wrapped: merge first
    merge_lora(model)
    assert supports(model.language_model)
    assert choose_decoder(model) == "fast"
    assert choose_decoder(model, "generate") == "generate"


@pytest.mark.parametrize("transcripts", [None, ["hello there"]])
def test_fast_assistant_answers_as_the_reference(tiny_model, transcripts):
    model, processor = tiny_model()
    reference = Assistant(model, processor, decoder="generate")
    params = SamplingParams(max_new_tokens=10)
    clips = [tone(440, 1.3), tone(880, 0.7)]
    convs = [Conversation(QUESTION, [clips[0]], transcripts),
             Conversation([{"role": "user", "content": [{"type": "audio"}, {"type": "audio"},
                                                         {"type": "text", "text": "Which is higher?"}]}],
                          clips, None if transcripts is None else transcripts * 2)]
    expected = reference.answer_batch(convs, params)
    merged, merged_processor = tiny_model()
    merge_lora(merged)
    fast = Assistant(merged, merged_processor, audio_cache=8)
    assert fast.decoder == "fast"
    for _ in range(2):  # the second time, the audio comes from the cache
        got = fast.answer_batch(convs, params)
        assert [(a.text, a.completion_tokens, a.prompt_tokens) for a in got] == \
            [(a.text, a.completion_tokens, a.prompt_tokens) for a in expected]
    stream = fast.answer_stream(QUESTION, [clips[0]], params, transcripts)
    assert "".join(stream).strip() == expected[0].text and stream.answer.completion_tokens == \
        expected[0].completion_tokens


def test_collator_from_stored_ids_and_cache_equals_full_collation(stage, tmp_path):  # noqa: F811
    from training.recipe import StageRecipe

    recipe = StageRecipe(stage(feature_cache=str(tmp_path / "cache"), data__num_workers=0), progress=False)
    recipe.setup()
    examples = recipe.examples
    assert all(ex.window_keys for ex in examples)
    fast = recipe.collator(examples[:4])
    full = recipe.collator._full(examples[:4])
    assert set(fast) == set(full)
    for key in fast:
        assert torch.equal(fast[key], full[key]), key


def test_loader_workers_follow_the_cores_and_the_device(monkeypatch):
    from training.data import loader_workers

    assert loader_workers(3, "cpu") == 3
    monkeypatch.setenv("ALM_THREADS", "2")
    assert loader_workers(-1, "cpu") == 0 and loader_workers(-1, "cuda") == 1
    monkeypatch.setenv("ALM_THREADS", "16")
    assert loader_workers(-1, "cpu") == 4 and loader_workers(-1, "cuda") == 8


def test_devices(monkeypatch):
    from alm.devices import fast_dtype, resolve_device
    from alm.errors import AlmError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") in ("cpu", "mps") and resolve_device("cpu") == "cpu"
    with pytest.raises(AlmError):
        resolve_device("cuda")
    with pytest.raises(AlmError):
        resolve_device("nonsense")
    assert fast_dtype("cpu") in (torch.bfloat16, torch.float32)


def test_ct2_vocabulary_and_byte_level_decoding():
    from alm.transcribe import N_TIMESTAMPS, _decode_tokens, ct2_vocabulary

    tokenizer = {"model": {"vocab": {"Ġhello": 0, "Ġw": 1, "Ã©": 2, "<|endoftext|>": 3}},
                 "added_tokens": [{"id": 4, "content": "<|startoftranscript|>"}]}
    vocab = ct2_vocabulary(tokenizer)
    assert vocab[:5] == ["Ġhello", "Ġw", "Ã©", "<|endoftext|>", "<|startoftranscript|>"]
    assert len(vocab) == 5 + N_TIMESTAMPS and vocab[5] == "<|0.00|>" and vocab[-1] == "<|30.00|>"
    assert _decode_tokens(["Ġhello", "Ġw", "Ã©"]) == " hello wé"


def test_transcriber_backend_choice(monkeypatch, tiny_bases):
    from alm import transcribe
    from alm.errors import WeightsError

    audio_base, _ = tiny_bases
    assert transcribe.pick_backend(audio_base, "cpu") == "transformers"  # no CTranslate2 files there
    assert transcribe.pick_backend("builtin:whisper-base", "cpu", "transformers") == "transformers"
    with pytest.raises(WeightsError):
        transcribe.pick_backend(audio_base, "cpu", "ctranslate2")
    with pytest.raises(WeightsError):
        transcribe.pick_backend(audio_base, "cpu", "onnx")
    monkeypatch.setattr(transcribe, "ct2_available", lambda: True)
    monkeypatch.setattr(transcribe, "ct2_device", lambda device: ("cpu", 0))
    assert transcribe.pick_backend("builtin:whisper-base", "cpu") == "ctranslate2"
    monkeypatch.setattr(transcribe, "ct2_available", lambda: False)
    assert transcribe.pick_backend("builtin:whisper-base", "cpu") == "transformers"


def test_no_speech_gate_rates():
    from alm.bench_transcripts import gate_rates

    rows = {r["threshold"]: r for r in gate_rates([0.1, 0.95, 0.5, 0.2], [True, False, False, True])}
    assert rows[0.6] == {"threshold": 0.6, "non_speech_still_transcribed": 0.5, "speech_losing_transcript": 0.0}
    assert rows[0.3]["non_speech_still_transcribed"] == 0.0


def test_own_length_frames_feed_ct2s_decoder_one_window_at_a_time():
    """The bench's `own-length-frames` backend: the real Whisper-base encoder at the clip's own length (10 s: 500
    frames, not Whisper's 1500), read by CTranslate2's decoder."""
    pytest.importorskip("ctranslate2")
    from alm.audio import load_audio
    from alm.bench import DEFAULT_CLIP
    from alm.bench_transcripts import OwnLengthFrames

    wave = load_audio(str(DEFAULT_CLIP))  # examples/announcement.flac, 10 s
    transcriber = OwnLengthFrames("builtin:whisper-base")
    frames = np.asarray(transcriber._encode([(0, 0, len(wave), wave)]))
    assert frames.shape == (1, 500, 512)
    assert transcriber.transcribe(wave).strip()
    with pytest.raises(ValueError, match="one window at a time"):
        transcriber._encode([(0, 0, len(wave), wave)] * 2)


def test_a_model_carries_its_no_speech_gate(tiny_bases):
    from types import SimpleNamespace

    from alm.transcribe import (DEFAULT_NO_SPEECH_GATE, default_dtype, model_gate, planned_identity,
                                transcriber_identity)

    audio_base, _ = tiny_bases
    assert model_gate(SimpleNamespace(no_speech_gate=None)) == DEFAULT_NO_SPEECH_GATE
    assert model_gate(SimpleNamespace(no_speech_gate=0.45)) == 0.45
    plain = planned_identity(audio_base, "cpu", None)  # no CTranslate2 files in a tiny base: transformers
    assert plain == transcriber_identity(audio_base, default_dtype("cpu"))  # the caches made before gates
    assert planned_identity(audio_base, "cpu", 0.45) != plain


def test_ct2_transcripts_are_named_for_where_the_encoder_runs(tiny_bases, monkeypatch):
    """CTranslate2's decoder reads PyTorch bfloat16 encoder output on CPUs with native bfloat16: those
    transcripts differ a little, so their caches have their own name."""
    from alm import devices, transcribe

    audio_base, _ = tiny_bases
    monkeypatch.setattr(transcribe, "pick_backend", lambda *args, **kwargs: "ctranslate2")
    monkeypatch.setattr(transcribe, "ct2_device", lambda device: ("cpu", 0))
    names = {}
    for native in (True, False):
        monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: native)
        names[native] = transcribe.planned_identity(audio_base, "cpu", 0.45)
        assert transcribe.ct2_encoder(audio_base, "cpu") == ("torch" if native else "ctranslate2")
        assert transcribe.ct2_encoder(audio_base, "cuda") == "ctranslate2"
        assert transcribe.ct2_encoder("/nowhere/ct2-only", "cpu") == "ctranslate2"  # no transformers folder there
    assert names[True] != names[False]


def test_llm_bytes_per_token_counts_a_tied_embedding_once():
    from alm.bench import llm_bytes_per_token

    tied, untied = _llm(tie_word_embeddings=True), _llm(tie_word_embeddings=False)
    params = sum(p.numel() for p in tied.parameters()) * 4
    assert llm_bytes_per_token(tied) == params
    embed = untied.get_input_embeddings().weight
    assert llm_bytes_per_token(untied) == sum(p.numel() for p in untied.parameters()) * 4 - embed.numel() * 4


def test_answer_bench_runs_on_a_tiny_assistant(tiny_model):
    from alm import bench

    model, processor = tiny_model()
    merge_lora(model)
    row = bench.measure_once(Assistant(model, processor, audio_cache=4), None, tone(440, 2.0), 4)
    assert row["answer_tokens"] >= 1 and row["decode_tok_s"] > 0 and "transcript_s" not in row
    json.dumps(row)
    assert np.isfinite(row["ttft_s"])


def test_answer_bench_encodes_the_clip_in_every_rep(tiny_model):
    """The assistant's encoder-frames cache must not hide the encoder's cost from a later rep's prefill or answer."""
    from alm import bench

    model, processor = tiny_model()
    merge_lora(model)
    assistant = Assistant(model, processor, audio_cache=4)
    clip = tone(440, 2.0)
    bench.measure_once(assistant, None, clip, 2)
    calls = []
    original = model.encode_windows
    model.encode_windows = lambda *a, **k: calls.append(1) or original(*a, **k)
    bench.measure_once(assistant, None, clip, 2)
    assert len(calls) == 2  # the timed generation's and the whole answer's


def test_identical_greedy_conversations_are_answered_once(tiny_model):
    model, processor = tiny_model()
    merge_lora(model)
    fast = Assistant(model, processor, audio_cache=8)
    params = SamplingParams(max_new_tokens=6)
    a, b = Conversation(QUESTION, [tone(440, 1.0)]), Conversation(QUESTION, [tone(660, 1.0)])
    calls = []
    original = fast._generate
    fast._generate = lambda inputs, *args, **kw: calls.append(len(inputs["input_ids"])) or original(inputs, *args,
                                                                                                      **kw)
    got = fast.answer_batch([a, b, a, a], params)
    assert calls == [2]
    alone = [fast.answer_batch([c], params)[0] for c in (a, b)]
    assert [g.text for g in got] == [alone[0].text, alone[1].text, alone[0].text, alone[0].text]


def test_static_cache_decoder_answers_as_the_reference(tiny_model):
    """The CUDA path (merged LLM, transformers' static cache) checked on CPU: same greedy answers."""
    model, processor = tiny_model()
    params = SamplingParams(max_new_tokens=8)
    convs = [Conversation(QUESTION, [tone(440, 1.3)]), Conversation(QUESTION, [tone(880, 0.6)])]
    expected = [a.text for a in Assistant(model, processor, decoder="generate").answer_batch(convs, params)]
    merge_lora(model)
    static = Assistant(model, processor, decoder="static", audio_cache=8)
    assert [a.text for a in static.answer_batch(convs, params)] == expected
