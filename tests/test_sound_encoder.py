"""The general-sound encoder beside Whisper (tiny random CNN, wav2vec2 and AST) and the sound tagger."""

import json
import shutil
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from alm.audio.features import pad_windows
from alm.audio.sound_features import CNN_MARKER, SoundFeatures, cnn_log_mel
from alm.conversation import Conversation, clips_then_text
from alm.errors import WeightsError
from alm.model import AlmForConditionalGeneration, num_audio_tokens
from alm.model.sound_encoder import SoundCnn, load_sound_encoder, stretch_frames
from alm.model.audio_encoder import window_stats
from alm.model.tagger import TAGGER_FILE, SoundTagger, TaggerSettings, pool_clips, tags_text, with_sound_block
from alm.processor import AlmProcessor, clip_notes
from conftest import tone
from training.tagger import (IGNORE, StageTags, TaggerData, asked_threshold, balanced_subset, cross_fit_tags, fit,
                             fold_of_groups, same_tagger, sound_names, targets, top1_accuracy, vocabulary)


@pytest.fixture(scope="module")
def tiny_cnn(tmp_path_factory):
    """A folder holding a random aisfx-shaped CNN of width 4 (32-d frames), as the converter writes it."""
    folder = tmp_path_factory.mktemp("sound-cnn")
    torch.manual_seed(0)
    cnn = SoundCnn(width=4)
    save_file({k: v.contiguous() for k, v in cnn.state_dict().items()}, folder / "model.safetensors")
    (folder / CNN_MARKER).write_text(json.dumps({"kind": "aisfx-cnn", "width": 4}))
    return folder


def test_cnn_features_and_frames():
    wave = tone(440, 2.0)
    spec = cnn_log_mel(wave)
    assert spec.shape == (96, 1 + len(wave) * 44100 // 16000 // 1024) and np.isfinite(spec).all()
    frames, lengths = SoundCnn(width=4)(torch.from_numpy(spec)[None], torch.tensor([spec.shape[1]]))
    assert frames.shape == (1, spec.shape[1] // 8, 32) and lengths.tolist() == [spec.shape[1] // 8]


def test_a_window_shorter_than_one_cnn_frame_still_gets_one():
    """The last window of a clip cut into windows can be a few milliseconds long (here 0.1 s: 5 spectrogram
    frames, fewer than the 8 one CNN frame takes); it gets one frame instead of failing in the pooling."""
    spec = torch.from_numpy(cnn_log_mel(tone(440, 0.1)))[None]  # 1, 96, 5
    assert spec.shape[2] < SoundCnn.TIME_STRIDE
    frames, lengths = SoundCnn(width=4)(spec, torch.tensor([spec.shape[2]]))
    assert frames.shape == (1, 1, 32) and lengths.tolist() == [1] and torch.isfinite(frames).all()


def test_stretch_keeps_each_windows_span():
    ramp = torch.arange(4, dtype=torch.float32)[None, :, None].repeat(2, 1, 1)  # W=2, S=4, E=1
    out = stretch_frames(ramp, torch.tensor([4, 2]), torch.tensor([8, 3]), 10)
    assert out.shape == (2, 10, 1)
    assert torch.all(out[0, :8, 0].diff() >= 0) and out[0, 8:].abs().sum() == 0  # monotone, zero past the length
    assert out[1, :3, 0].min() >= 0 and out[1, :3, 0].max() <= 1 and out[1, 3:].abs().sum() == 0


def test_model_with_a_sound_encoder(tiny_config, tiny_cnn, tmp_path):
    config = tiny_config(sound_encoder=str(tiny_cnn))
    processor = AlmProcessor.from_config(config)
    model = AlmForConditionalGeneration.from_bases(config)
    for key, value in SoundCnn.from_folder(tiny_cnn).state_dict().items():  # the CNN's weights, not post_init's
        torch.testing.assert_close(model.sound_encoder.state_dict()[key], value, atol=0, rtol=0)
    assert config.sound_width == 32 and config.frame_width == 32 + 32
    clips = [tone(300, 1.0), tone(700, 31.0)]
    conv = Conversation([{"role": "user", "content": clips_then_text(2, "Which is higher?")}], clips)
    batch = processor.batch([conv])
    assert batch["sound_features"].shape[:2] == (3, 96) and batch["sound_lengths"].shape == (3,)  # 1 + 2 windows
    audio = int((batch["input_ids"] == model.config.audio_token_id).sum())
    assert audio == sum(num_audio_tokens(len(c), processor.spec) for c in clips)  # token counts unchanged
    frames, lengths = model.encode_frames(batch["audio_mel"], batch["audio_mel_lengths"], batch["sound_features"],
                                          batch["sound_lengths"])
    assert frames.shape[-1] == config.frame_width
    model.eval()
    with torch.no_grad():
        before = model(**batch).logits
    model.save_pretrained(tmp_path / "ckpt", processor=processor)
    loaded = AlmForConditionalGeneration.from_pretrained(tmp_path / "ckpt")
    reloaded = AlmProcessor.from_pretrained(tmp_path / "ckpt")
    assert reloaded.sound_encoder == str(tiny_cnn)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**reloaded.batch([conv])).logits, before, atol=0, rtol=0)


def test_a_waveform_model_from_the_hub_format(tmp_path):
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    config = Wav2Vec2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                            conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16,
                            num_conv_pos_embedding_groups=2, do_stable_layer_norm=True, feat_extract_norm="layer")
    Wav2Vec2Model(config).save_pretrained(tmp_path)
    Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(tmp_path)
    encoder = load_sound_encoder(str(tmp_path))
    features, length = SoundFeatures.for_encoder(str(tmp_path))(tone(440, 1.0))
    assert features.shape == (1, 16000) and length == 16000
    frames, lengths = encoder(torch.from_numpy(features)[None], torch.tensor([16000]))
    assert frames.shape[0] == 1 and frames.shape[2] == 16 and 0 < int(lengths[0]) <= frames.shape[1]


@pytest.fixture(scope="module")
def tiny_ast(tmp_path_factory):
    """A folder holding a random Audio Spectrogram Transformer on 32 bands and spans of 64 frames (2 x 5 patches
    of 16 x 16, every 10 bands and frames) with its extractor, as on the Hub."""
    from transformers import ASTConfig, ASTFeatureExtractor, ASTModel

    folder = tmp_path_factory.mktemp("ast")
    torch.manual_seed(0)
    config = ASTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                       num_mel_bins=32, max_length=64)
    ASTModel(config).save_pretrained(folder)
    ASTFeatureExtractor(num_mel_bins=32, max_length=64).save_pretrained(folder)
    return folder


def _ast_reference(folder, samples: np.ndarray) -> torch.Tensor:
    """What AST itself makes of one stretch of audio through its own extractor (cut or padded to its 64 frames):
    (5, 16), each time step's patches averaged over frequency."""
    from transformers import ASTFeatureExtractor, ASTModel

    values = ASTFeatureExtractor.from_pretrained(folder)(samples, sampling_rate=16_000, return_tensors="pt")
    with torch.no_grad():
        hidden = ASTModel.from_pretrained(folder)(**values).last_hidden_state[:, 2:]  # 1, 2 * 5, 16
    return hidden.reshape(2, 5, 16).mean(0)


def test_an_ast_reads_a_long_window_as_spans_on_one_grid_each_as_ast_itself_reads_that_audio(tiny_ast):
    """A 2 s window is 198 log-mel frames: spans start every 50 frames (5 steps of 10), so 20 steps in 4 spans;
    the second span is AST on frames 50-113, the last on frames 150-197 padded as AST's extractor pads."""
    wave = tone(440, 2.0) * np.linspace(0.2, 1.0, 32_000, dtype=np.float32)  # changes along the window
    features, length = SoundFeatures.for_encoder(str(tiny_ast))(wave)
    assert features.shape == (32, 1 + (32_000 - 400) // 160) == (32, 198) and length == 198
    encoder = load_sound_encoder(str(tiny_ast))
    assert (encoder.bands, encoder.steps, encoder.hop) == (2, 5, 50)
    with torch.no_grad():
        frames, lengths = encoder(torch.from_numpy(features)[None], torch.tensor([198]))
    assert frames.shape == (1, 20, 16) and lengths.tolist() == [20]
    second = _ast_reference(tiny_ast, wave[50 * 160:113 * 160 + 400])
    last = _ast_reference(tiny_ast, wave[150 * 160:])
    torch.testing.assert_close(frames[0, 5:10], second, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(frames[0, 15:20], last, atol=1e-5, rtol=1e-4)


def test_an_ast_window_gets_the_same_frames_alone_as_beside_a_longer_one(tiny_ast):
    extract = SoundFeatures.for_encoder(str(tiny_ast))
    (short, _), (long, _) = extract(tone(300, 0.3)), extract(tone(900, 1.5))  # 28 and 148 frames: 3 and 15 steps
    encoder = load_sound_encoder(str(tiny_ast))
    with torch.no_grad():
        alone, alone_lengths = encoder(torch.from_numpy(short)[None], torch.tensor([short.shape[1]]))
        both, both_lengths = encoder(pad_windows([short, long]), torch.tensor([short.shape[1], long.shape[1]]))
    assert alone_lengths.tolist() == [3] and both_lengths.tolist() == [3, 15] and both.shape == (2, 15, 16)
    torch.testing.assert_close(both[0, :3], alone[0, :3], atol=1e-5, rtol=1e-4)


@pytest.fixture(scope="module")
def tiny_clap(tmp_path_factory):
    """A folder holding a random whole CLAP (text and audio towers) whose audio tower fuses four channels, as
    `laion/clap-htsat-fused` does: 16 bands, 1 s spans (101 frames at 48 kHz), 32 steps per span, 16-d frames."""
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel

    folder = tmp_path_factory.mktemp("clap")
    torch.manual_seed(0)
    config = ClapConfig(text_config=dict(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                         intermediate_size=32, projection_dim=8),
                        audio_config=dict(**TINY_CLAP_AUDIO, enable_fusion=True), projection_dim=8)
    ClapModel(config).save_pretrained(folder)
    ClapFeatureExtractor(feature_size=16, max_length_s=1, truncation="fusion").save_pretrained(folder)
    return folder


TINY_CLAP_AUDIO = dict(spec_size=64, num_mel_bins=16, window_size=4, patch_size=4, patch_stride=(4, 4), depths=[1, 1],
                       num_attention_heads=[1, 2], hidden_size=16, patch_embeds_hidden_size=8, projection_dim=8)


@pytest.mark.parametrize("truncation, channels", [("rand_trunc", 1), ("fusion", 4)])
def test_clap_reads_a_long_window_as_10_s_spans_each_as_clap_itself_reads_that_audio(truncation, channels, tmp_path):
    """An audio tower alone, without fusion (as `laion/clap-htsat-unfused`), spans of 1 s here: a 2.5 s window is
    three spans of 101 frames, the last holding 51; 32 steps a span, the last span's 17 that start on audio. An
    extractor set to fuse makes four copies of each span; the tower reads one."""
    import soxr
    from transformers import ClapAudioConfig, ClapAudioModel, ClapFeatureExtractor

    torch.manual_seed(0)
    ClapAudioModel(ClapAudioConfig(**TINY_CLAP_AUDIO)).save_pretrained(tmp_path)
    extractor = ClapFeatureExtractor(feature_size=16, max_length_s=1, truncation=truncation)
    extractor.save_pretrained(tmp_path)
    wave = tone(440, 2.5) * np.linspace(0.2, 1.0, 40_000, dtype=np.float32)
    features, length = SoundFeatures.for_encoder(str(tmp_path))(wave)
    assert features.shape == (channels * 16, 3 * 101) and length == 2 * 101 + 51
    encoder = load_sound_encoder(str(tmp_path))
    with torch.no_grad():
        frames, lengths = encoder(torch.from_numpy(features)[None], torch.tensor([length]))
    assert frames.shape == (1, 3 * 32, 16) and lengths.tolist() == [2 * 32 + 17]
    y = soxr.resample(wave, 16_000, 48_000).astype(np.float32)
    model = ClapAudioModel.from_pretrained(tmp_path).eval()
    for span in (1, 2):  # a whole span, then the last one, repeated to 1 s by CLAP's own extractor
        values = extractor(y[span * 48_000:(span + 1) * 48_000], sampling_rate=48_000, return_tensors="pt")
        with torch.no_grad():
            hidden = model(input_features=values["input_features"][:, :1]).last_hidden_state  # 1, 16, 2, 32
        reference = hidden.mean(2)[0].T  # 32, 16
        torch.testing.assert_close(frames[0, span * 32:(span + 1) * 32], reference, atol=1e-5, rtol=1e-4)


def test_a_fused_clap_window_gets_the_same_frames_alone_as_beside_a_longer_one(tiny_clap):
    extract = SoundFeatures.for_encoder(str(tiny_clap))
    (short, short_length), (long, long_length) = extract(tone(300, 0.4)), extract(tone(900, 2.2))
    assert short.shape == (4 * 16, 101) and long.shape == (4 * 16, 3 * 101)  # four channels of 16 bands
    encoder = load_sound_encoder(str(tiny_clap))
    assert encoder.fusion and type(encoder.model).__name__ == "ClapAudioModel"  # the text tower is dropped
    with torch.no_grad():
        alone, alone_lengths = encoder(torch.from_numpy(short)[None], torch.tensor([short_length]))
        both, both_lengths = encoder(pad_windows([short, long]), torch.tensor([short_length, long_length]))
    assert both_lengths.tolist() == [alone_lengths.item(), 2 * 32 + 7] and both.shape == (2, 3 * 32, 16)
    n = alone_lengths.item()
    torch.testing.assert_close(both[0, :n], alone[0, :n], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("encoder, channels", [("tiny_ast", 32), ("tiny_clap", 4 * 16)])
def test_a_model_with_a_hub_sound_encoder_on_spectrograms_runs_and_round_trips(tiny_config, encoder, channels,
                                                                                request, tmp_path):
    folder = request.getfixturevalue(encoder)
    config = tiny_config(sound_encoder=str(folder))
    processor = AlmProcessor.from_config(config)
    model = AlmForConditionalGeneration.from_bases(config).eval()
    assert config.sound_width == 16 and config.frame_width == 32 + 16
    clips = [tone(300, 1.0), tone(700, 31.0)]
    conv = Conversation([{"role": "user", "content": clips_then_text(2, "Which is higher?")}], clips)
    batch = processor.batch([conv])
    assert batch["sound_features"].shape[:2] == (3, channels)  # 1 + 2 windows
    with torch.no_grad():
        before = model(**batch).logits
    assert torch.isfinite(before).all()
    model.save_pretrained(tmp_path / "ckpt", processor=processor)
    with torch.no_grad():
        after = AlmForConditionalGeneration.from_pretrained(tmp_path / "ckpt")(**batch).logits
    torch.testing.assert_close(after, before, atol=0, rtol=0)


@pytest.mark.parametrize("encoder", ["tiny_cnn", "tiny_ast"])
def test_an_export_holds_its_sound_encoder_and_tagger_and_loads_without_the_encoders_source(tiny_config, encoder,
                                                                                             request, tmp_path):
    from alm.export import SOUND_DIR, export_model

    source = shutil.copytree(request.getfixturevalue(encoder), tmp_path / "encoder")
    config = tiny_config(sound_encoder=str(source), sound_tags=True)
    processor = AlmProcessor.from_config(config)
    model = AlmForConditionalGeneration.from_bases(config)
    torch.manual_seed(0)
    model.tagger = SoundTagger(TaggerSettings(labels=["dog", "rain"], width=config.frame_width, top_k=1,
                                              threshold=0.0))
    model.save_pretrained(tmp_path / "ckpt", processor=processor)
    conv = Conversation([{"role": "user", "content": clips_then_text(1, "What is it?")}], [tone(440, 1.5)])
    with torch.no_grad():
        want = model.eval()(**processor.batch([conv])).logits
    out = export_model(str(tmp_path / "ckpt"), tmp_path / "export")
    shutil.rmtree(source)
    loaded, reloaded = AlmForConditionalGeneration.from_pretrained(out), AlmProcessor.from_pretrained(out)
    assert loaded.config.sound_encoder == reloaded.sound_encoder == str(out / SOUND_DIR)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**reloaded.batch([conv])).logits, want, atol=1e-4, rtol=1e-4)
    for key, value in model.tagger.state_dict().items():
        assert torch.equal(loaded.tagger.state_dict()[key], value)
    assert f"`{SOUND_DIR}/`" in (out / "README.md").read_text() and "tagger.safetensors" in (out / "README.md").read_text()


def test_a_hub_model_that_is_not_a_sound_encoder_is_refused_in_one_line(tmp_path):
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                         vocab_size=50)).save_pretrained(tmp_path)
    with pytest.raises(WeightsError, match="a bert model is not a sound encoder alm can run"):
        load_sound_encoder(str(tmp_path))
    with pytest.raises(WeightsError, match="cannot load sound encoder"):
        load_sound_encoder(str(tmp_path / "missing"))
    with pytest.raises(WeightsError, match="cannot load the feature extractor of sound encoder"):
        SoundFeatures.for_encoder(str(tmp_path / "missing"))


def separable_clips() -> tuple[list[list[str]], torch.Tensor]:
    """60 clips of three classes (labels most specific first, as the corpus lists them), one feature each."""
    torch.manual_seed(0)
    labels = [["dog", "animal"], ["cat", "animal"], ["rain", "weather"]] * 20
    centres = {"dog": 0, "cat": 1, "rain": 2}
    feats = torch.randn(len(labels), 8) * 0.1
    for row, clip in enumerate(labels):
        feats[row, centres[clip[0]]] += 3.0
    return labels, feats


def test_sigmoid_tagger_learns_every_label_and_round_trips(tmp_path):
    labels, feats = separable_clips()
    vocab = vocabulary(labels, min_clips=2, kind="sigmoid")
    assert vocab[0] == "animal" and set(vocab) == {"animal", "dog", "cat", "rain", "weather"}
    settings = TaggerSettings(labels=vocab, width=4, top_k=2, threshold=0.5, kind="sigmoid")
    tagger = fit(feats, targets(labels, vocab, "sigmoid"), settings, steps=200)
    assert top1_accuracy(tagger, feats, labels) == 1.0
    assert {t for t, _ in tagger.tags(feats[:1])[0]} == {"dog", "animal"}
    held_out = cross_fit_tags(feats, targets(labels, vocab, "sigmoid"), settings, folds=2, steps=200)
    assert all(tags and tags[0][0] in clip for tags, clip in zip(held_out, labels))
    tagger.save(tmp_path)
    again = SoundTagger.load(tmp_path)
    assert again.tags(feats[:3]) == tagger.tags(feats[:3])


def test_softmax_tagger_names_the_most_specific_label_first(tmp_path):
    labels, feats = separable_clips()
    labels[0] = ["wolf", "animal"]  # one clip of a label too rare to be told apart: left out of the loss
    vocab = vocabulary(labels, min_clips=2)
    assert set(vocab) == {"dog", "cat", "rain"}  # parents are implied, never tags
    target = targets(labels, vocab)
    assert target.dtype == torch.long and int(target[0]) == IGNORE and vocab[int(target[1])] == "cat"
    settings = TaggerSettings(labels=vocab, width=4, top_k=3, threshold=0.0, kind="softmax")
    tagger = fit(feats, target, settings, steps=200, label_smoothing=0.1)
    tags = tagger.tags(feats[:3])
    assert [clip[0][0] for clip in tags] == ["dog", "cat", "rain"]
    assert all(abs(sum(p for _, p in clip) - 1.0) <= 0.02 for clip in tags)  # one distribution over the labels
    held_out = cross_fit_tags(feats, target, settings, folds=2, steps=200)
    assert all(t[0][0] == clip[0] for t, clip in zip(held_out[1:], labels[1:]))
    tagger.save(tmp_path)
    assert SoundTagger.load(tmp_path).tags(feats[:3]) == tags


def test_a_tagger_with_a_hidden_layer_learns_what_a_linear_head_cannot_and_round_trips(tmp_path):
    torch.manual_seed(0)
    feats = torch.randn(200, 8)
    labels = [["dog" if x0 * x1 > 0 else "cat", "animal"] for x0, x1 in feats[:, :2].tolist()]  # XOR of two signs
    vocab = vocabulary(labels, min_clips=2)
    target = targets(labels, vocab)
    linear = fit(feats, target, TaggerSettings(labels=vocab, width=4, kind="softmax"), steps=300, lr=1e-2)
    settings = TaggerSettings(labels=vocab, width=4, kind="softmax", hidden=32, dropout=0.1)
    hidden = fit(feats, target, settings, steps=300, lr=1e-2)
    assert top1_accuracy(linear, feats, labels) < 0.75 < 0.95 < top1_accuracy(hidden, feats, labels)
    hidden.save(tmp_path)
    again = SoundTagger.load(tmp_path)
    assert (again.settings.hidden, again.settings.dropout) == (32, 0.1)
    assert torch.equal(again.clip_probabilities(feats), hidden.clip_probabilities(feats))  # dropout off once fit
    hidden.train()  # as inside a model that trains: tags are still made without dropout
    assert torch.equal(hidden.clip_probabilities(feats), again.clip_probabilities(feats)) and hidden.training
    with pytest.raises(ValueError, match="tagger hidden -1"):
        TaggerSettings(labels=["dog"], width=4, hidden=-1)


@pytest.mark.parametrize("kind", ["softmax", "sigmoid"])
def test_an_ensemble_averages_heads_fit_from_successive_seeds_and_round_trips(kind, tmp_path):
    labels, feats = separable_clips()
    vocab = vocabulary(labels, min_clips=2, kind=kind)
    target = targets(labels, vocab, kind)
    one = TaggerSettings(labels=vocab, width=4, kind=kind)
    ensemble = fit(feats, target, replace(one, ensemble=3), steps=30, lr=1e-2, seed=5, batch_size=16)
    members = [fit(feats, target, one, steps=30, lr=1e-2, seed=5 + k, batch_size=16) for k in range(3)]
    assert all(same_tagger(m, e) for m, e in zip(members, ensemble.members))  # member k is the seed-(5 + k) fit
    mean = torch.stack([m.clip_probabilities(feats) for m in members]).mean(0)  # 3, A, L -> A, L
    assert torch.allclose(ensemble.clip_probabilities(feats), mean, atol=1e-5)
    assert not torch.allclose(members[0].clip_probabilities(feats), mean, atol=1e-3)
    ensemble.save(tmp_path)
    again = SoundTagger.load(tmp_path)
    assert again.settings.ensemble == 3
    assert torch.equal(again.clip_probabilities(feats), ensemble.clip_probabilities(feats))
    with pytest.raises(ValueError, match="tagger ensemble 0"):
        replace(one, ensemble=0)


def test_a_hidden_heads_fit_is_one_fit_per_seed_and_leaves_the_callers_random_stream_alone():
    torch.manual_seed(0)
    feats = torch.randn(64, 8)
    labels = [["dog" if x0 > 0 else "cat"] for x0 in feats[:, 0].tolist()]
    vocab = vocabulary(labels, min_clips=2)
    target = targets(labels, vocab)
    settings = TaggerSettings(labels=vocab, width=4, kind="softmax", hidden=16, dropout=0.5)
    torch.manual_seed(123)
    untouched = torch.rand(1)
    torch.manual_seed(123)
    first = fit(feats, target, settings, steps=20, lr=1e-2, seed=3)
    assert torch.equal(torch.rand(1), untouched)  # the dropout masks came from the fit's own seeded stream
    torch.manual_seed(456)
    assert same_tagger(first, fit(feats, target, settings, steps=20, lr=1e-2, seed=3))  # whatever the caller's seed
    assert not same_tagger(first, fit(feats, target, settings, steps=20, lr=1e-2, seed=4))


def test_a_minibatch_fit_takes_every_clip_once_a_pass_learns_and_is_one_fit_per_seed(monkeypatch):
    import training.tagger as tagger_module

    labels, feats = separable_clips()
    labels, feats = labels[:24], feats[:24]
    vocab = vocabulary(labels, min_clips=2)
    target = targets(labels, vocab)
    settings = TaggerSettings(labels=vocab, width=4, top_k=1, threshold=0.0, kind="softmax")
    seen = []

    class Recording(SoundTagger):
        def forward(self, pooled):
            seen.append(pooled.shape[0])
            if self.training:
                batches.append({int(i) for i in torch.nonzero((pooled[:, None] == marked[None]).all(-1))[:, 1]})
            return super().forward(pooled)

    marked = feats + torch.arange(len(feats))[:, None] * 1e-3  # each clip told apart by its values
    batches: list[set] = []
    monkeypatch.setattr(tagger_module, "SoundTagger", Recording)
    torch.manual_seed(123)
    untouched = torch.rand(1)
    torch.manual_seed(123)
    tagger = fit(marked, target, settings, steps=12, lr=3e-2, batch_size=5)
    assert torch.equal(torch.rand(1), untouched)  # the batches came from the fit's own seeded stream
    assert seen[:12] == [5, 5, 5, 5, 4] * 2 + [5, 5]  # passes of 24 clips: four batches of 5, then the last 4
    assert set().union(*batches[:5]) == set(range(24)) == set().union(*batches[5:10])  # each clip once a pass
    assert batches[:5] != batches[5:10]  # reshuffled
    assert [t[0][0] for t in tagger.tags(marked[:3])] == ["dog", "cat", "rain"]
    monkeypatch.setattr(tagger_module, "SoundTagger", SoundTagger)
    again = fit(marked, target, settings, steps=12, lr=3e-2, batch_size=5)
    assert same_tagger(tagger, again)
    assert not same_tagger(tagger, fit(marked, target, settings, steps=12, lr=3e-2, batch_size=5, seed=1))
    assert not same_tagger(tagger, fit(marked, target, settings, steps=12, lr=3e-2))  # full batch: another fit


def test_a_tagger_file_without_a_kind_is_a_sigmoid_tagger_and_a_wrong_kind_is_refused(tmp_path):
    SoundTagger(TaggerSettings(labels=["dog", "rain"], width=4, kind="sigmoid")).save(tmp_path)
    saved = json.loads((tmp_path / TAGGER_FILE).read_text())
    del saved["kind"]  # written before taggers had kinds
    (tmp_path / TAGGER_FILE).write_text(json.dumps(saved))
    assert SoundTagger.load(tmp_path).settings.kind == "sigmoid"
    with pytest.raises(ValueError, match="tagger kind 'softmx'"):
        TaggerSettings(labels=["dog"], width=4, kind="softmx")


def test_tags_are_read_after_the_transcript(tiny_config):
    processor = AlmProcessor.from_config(tiny_config())
    assert tags_text([("dog", 0.82), ("animal", 0.9)]) == " (sound tags: dog 0.82, animal 0.90)"
    assert clip_notes("woof", []) == ' (speech transcript: "woof") (sound tags: none)'
    conv = Conversation([{"role": "user", "content": clips_then_text(1, "What is it?")}], [tone(440)],
                        transcripts=["hi"], tags=[[("bell", 0.7)]])
    text = processor.tokenizer.decode(processor.batch([conv])["input_ids"][0])
    assert '(speech transcript: "hi") (sound tags: bell 0.70)\nWhat is it?' in text


def asking_tagger(**settings) -> SoundTagger:
    names = {"animal": ["dog", "cat"], "bass drum": ["bass drum"], "cat": ["cat"], "dog": ["dog"],
             "drum": ["bass drum", "snare drum"], "hi-hat": ["hi-hat"], "snare drum": ["snare drum"]}
    return SoundTagger(TaggerSettings(labels=["dog", "cat", "bass drum", "snare drum", "hi-hat"], width=4,
                                      kind="softmax", names=names, **settings))


def test_asked_names_are_the_known_sounds_a_prompt_names_longest_first_in_order():
    tagger = asking_tagger()
    assert tagger.asks
    assert tagger.asked_names("Is there a Bass Drum, or dogs? Any animal here?") == ["bass drum", "dog", "animal"]
    assert tagger.asked_names("a drum, a snare drum and a drum again") == ["drum", "snare drum"]
    assert tagger.asked_names("Is the hi-hat open? A chi-hat? Hotdogs? catalogue") == ["hi-hat"]
    assert tagger.asked_names("dog cat drum hi-hat") == ["dog", "cat", "drum"]  # asked_limit 3
    assert asking_tagger(asked_limit=1).asked_names("dog and cat") == ["dog"]
    plain = SoundTagger(TaggerSettings(labels=["dog"], width=4, kind="softmax"))
    assert not plain.asks and plain.asked_names("Is there a dog?") == []
    with pytest.raises(ValueError, match="does not tell apart: wolf"):
        TaggerSettings(labels=["dog"], width=4, names={"animal": ["dog", "wolf"]})


def test_an_asked_name_sums_the_labels_it_covers(tmp_path):
    tagger = asking_tagger()
    probs = torch.tensor([[0.5, 0.2, 0.2, 0.06, 0.04], [0.0, 0.0, 0.1, 0.85, 0.05]])
    assert tagger.asked_tags(probs, ["animal", "drum", "hi-hat"]) == [
        [("animal", 0.7), ("drum", 0.26), ("hi-hat", 0.04)], [("animal", 0.0), ("drum", 0.95), ("hi-hat", 0.05)]]
    sigmoid = SoundTagger(TaggerSettings(labels=["dog", "animal"], width=4, kind="sigmoid",
                                         names={"dog": ["dog"], "animal": ["animal"]}))
    assert sigmoid.asked_tags(torch.tensor([[0.9, 0.95]]), ["animal"]) == [[("animal", 0.95)]]
    tagger.save(tmp_path)
    assert SoundTagger.load(tmp_path).settings == tagger.settings  # names travel with the tagger
    assert tags_text([("dog", 0.5)], [("bird", 0.03)]) == " (sound tags: dog 0.50; asked: bird 0.03)"
    assert tags_text([("dog", 0.5)], []) == tags_text([("dog", 0.5)]) == " (sound tags: dog 0.50)"


VERDICT_LABELS = [["dog", "animal"], ["cat", "animal"], ["bass drum", "drum"], ["snare drum", "drum"], ["hi-hat"]]
VERDICT_PROBS = torch.tensor([[0.30, 0.10, 0.20, 0.20, 0.20],  # dog at 0.30 (its own) and 0.40 (animal)
                              [0.05, 0.25, 0.30, 0.20, 0.20],  # cat at 0.25, yet bass drum at 0.30 too
                              [0.10, 0.10, 0.60, 0.10, 0.10],
                              [0.10, 0.10, 0.10, 0.60, 0.10],
                              [0.05, 0.05, 0.10, 0.10, 0.70]])


def verdict_score_by_hand(tagger, probs, labels, popular, t):
    """`asked_threshold`'s score at threshold t, computed name by name: the mean of present sounds called likely and
    of absent ones (any, the `popular` names, each clip's most probable) called unlikely."""
    names = sorted(tagger.settings.names)
    first = [tagger.settings.labels[int(i)] for i in probs.argmax(1)]
    rows = [[(p, name in clip or clip[0] in tagger.settings.names[name],
              tagger.settings.asked_top and top in tagger.settings.names[name]) for name, p, *_ in row]
            for clip, top, row in zip(labels, first, tagger.asked_tags(probs, names))]  # (p, present, covers top)
    confused = [sorted(((p, c) for p, present, c in row if not present), reverse=True)[:sum(t for _, t, _ in row)]
                for row in rows]  # per clip, its most probable absent names, as many as it has present ones

    def share(values):
        return sum(values) / len(values)

    hit = share([p >= t or c for row in rows for p, present, c in row if present])
    random = share([not (p >= t or c) for row in rows for p, present, c in row if not present])
    frequent = share([not (p >= t or c) for row in rows for (p, present, c), name in zip(row, names)
                      if not present and name in popular])
    adversarial = share([not (p >= t or c) for top in confused for p, c in top])
    return (hit + (random + frequent + adversarial) / 3) / 2


def test_asked_sounds_get_a_verdict_at_the_threshold_that_tells_present_from_absent_best(tmp_path):
    """The threshold scores present sounds against absent ones drawn as POPE's three modes draw them."""
    tagger = asking_tagger()
    threshold, score = asked_threshold(VERDICT_PROBS, VERDICT_LABELS, tagger, popular=2)
    popular = {"animal", "drum"}  # present in two clips each, every other name in one at most

    def at(t):
        return verdict_score_by_hand(tagger, VERDICT_PROBS, VERDICT_LABELS, popular, t)

    assert score == pytest.approx(max(at(t / 100) for t in range(1, 100)))
    assert at(threshold) == pytest.approx(score) and threshold == 0.21  # the first of the best: 0.21-0.25
    tagger.settings.asked_threshold = threshold
    assert tagger.asked_tags(VERDICT_PROBS[:1], ["dog", "drum"]) == [[("dog", 0.3, "likely"), ("drum", 0.4, "likely")]]
    assert tagger.asked_tags(VERDICT_PROBS[4:], ["dog"]) == [[("dog", 0.05, "unlikely")]]
    assert tags_text([("dog", 0.3)], [("dog", 0.3, "likely"), ("cat", 0.1, "unlikely")]) == \
        " (sound tags: dog 0.30; asked: dog 0.30 likely, cat 0.10 unlikely)"
    tagger.save(tmp_path)
    assert SoundTagger.load(tmp_path).settings.asked_threshold == threshold


def test_with_asked_top_a_sound_covering_the_clips_most_likely_label_is_likely_at_any_probability(tmp_path):
    flat = torch.tensor([[0.24, 0.19, 0.19, 0.19, 0.19]])  # a recording of a new source: flat, yet dog comes first
    asked = ["dog", "animal", "cat", "drum"]
    plain = asking_tagger(asked_threshold=0.5)
    assert [v for *_, v in plain.asked_tags(flat, asked)[0]] == ["unlikely"] * 4
    tagger = asking_tagger(asked_threshold=0.5, asked_top=True)
    assert tagger.asked_tags(flat, asked) == [[("dog", 0.24, "likely"), ("animal", 0.43, "likely"),
                                              ("cat", 0.19, "unlikely"), ("drum", 0.38, "unlikely")]]
    assert tagger.asked_tags(flat, []) == [[]]
    probs = torch.cat([VERDICT_PROBS, torch.tensor([[0.10, 0.10, 0.10, 0.10, 0.12]])])  # a flat hi-hat clip
    labels = VERDICT_LABELS + [["hi-hat"]]
    threshold, score = asked_threshold(probs, labels, tagger, popular=2)
    scores = [verdict_score_by_hand(tagger, probs, labels, {"animal", "drum"}, t / 100) for t in range(1, 100)]
    assert score == pytest.approx(max(scores)) and threshold == (scores.index(max(scores)) + 1) / 100
    plain_threshold, plain_score = asked_threshold(probs, labels, asking_tagger(), popular=2)
    assert score > plain_score  # the flat hi-hat is heard at a threshold that keeps absent sounds out
    tagger.save(tmp_path)
    assert SoundTagger.load(tmp_path).settings.asked_top
    assert SoundTagger.load(tmp_path).settings == tagger.settings


def test_a_verdict_without_asked_sounds_is_a_config_error():
    from alm.errors import AlmError
    from training.tagger import TaggerPlan, stage_tags

    with pytest.raises(AlmError, match="asked_verdict: true needs tagger.asked: true"):
        stage_tags(None, None, None, "corpus", [], TaggerPlan(asked_verdict=True), 0, None)
    with pytest.raises(AlmError, match="asked_top: true needs tagger.asked_verdict: true"):
        stage_tags(None, None, None, "corpus", [], TaggerPlan(asked=True, asked_top=True), 0, None)
    with pytest.raises(AlmError, match="speech_gate: true needs tagger.asked_verdict: true"):
        stage_tags(None, None, None, "corpus", [], TaggerPlan(asked=True, speech_gate=True), 0, None)
    with pytest.raises(AlmError, match="speech_gate_words: a rule of the speech gate"):
        stage_tags(None, None, None, "corpus", [], TaggerPlan(speech_gate_words=4), 0, None)


def test_a_fits_cache_key_holds_what_the_fit_reads_not_the_threshold_set_after_it():
    from training.tagger_cache import fit_key

    features, target = torch.randn(6, 1, 8), torch.tensor([0, 1, 0, 1, 0, 1])
    settings = TaggerSettings(labels=["dog", "cat"], width=4, kind="softmax")
    key = fit_key(features, target, settings, 2, None, 0, {"steps": 5})
    settings.asked_threshold, settings.asked_top = 0.2, True
    assert fit_key(features, target, settings, 2, None, 0, {"steps": 5}) == key
    assert fit_key(features, target, TaggerSettings(labels=["dog", "cow"], width=4, kind="softmax"), 2, None, 0,
                   {"steps": 5}) != key
    assert fit_key(features, target, settings, 2, None, 0, {"steps": 6}) != key
    assert fit_key(features + 1, target, settings, 2, None, 0, {"steps": 5}) != key


def test_a_linear_heads_fit_key_is_the_one_it_had_before_hidden_heads_existed():
    from training.tagger_cache import fit_key

    features, target = torch.arange(48, dtype=torch.float32).reshape(6, 1, 8) / 10, torch.tensor([0, 1, 0, 1, 0, 1])
    settings = TaggerSettings(labels=["dog", "cat"], width=4, kind="softmax")
    key = fit_key(features, target, settings, 2, None, 0, {"steps": 5})
    assert key == "85048eb77a4522e4fe1a0137bdbe188651414ffc6f1a508f2bf07191c7f20eda"  # cached fits stay valid
    wider = TaggerSettings(labels=["dog", "cat"], width=4, kind="softmax", hidden=16)
    assert fit_key(features, target, wider, 2, None, 0, {"steps": 5}) != key
    apart = TaggerSettings(labels=["dog", "cat"], width=4, kind="softmax", sound_width=1)
    assert fit_key(features, target, apart, 2, None, 0, {"steps": 5}) != key
    block = TaggerSettings(labels=["dog", "cat"], width=4, kind="softmax", layers=2, sound_block=True)
    layered = TaggerSettings(labels=["dog", "cat"], width=4, kind="softmax", layers=2)
    assert fit_key(features, target, block, 2, None, 0, {"steps": 5}) != fit_key(features, target, layered, 2, None, 0,
                                                                                 {"steps": 5})


@pytest.mark.parametrize("whisper_width, sound_width", [(4, 2), (2, 4)])
def test_the_sound_block_pads_the_narrower_encoder_and_pools_as_its_parts_do(whisper_width, sound_width):
    """Window stats of 3 Whisper layers (W, 3, 2C) and the sound encoder's (W, 1, 2E) -> (W, 4, 2 max(C, E)), each
    half zero-padded: pooling the blocks per clip is pooling each part, then padding."""
    torch.manual_seed(0)
    layers, sound = torch.randn(5, 3, 2 * whisper_width), torch.randn(5, 1, 2 * sound_width)
    joined = with_sound_block(layers, sound)
    width = max(whisper_width, sound_width)
    assert joined.shape == (5, 4, 2 * width)
    assert torch.equal(joined[:, 3, :sound_width], sound[:, 0, :sound_width])  # the sound block's mean half
    assert torch.equal(joined[:, 3, width:width + sound_width], sound[:, 0, sound_width:])  # and its max half
    assert joined[:, 3, sound_width:width].abs().sum() == 0 and joined[:, :3, whisper_width:width].abs().sum() == 0
    lengths, per_clip = torch.tensor([3, 5, 2, 4, 4]), [2, 3]
    torch.testing.assert_close(pool_clips(joined, lengths, per_clip),
                               with_sound_block(pool_clips(layers, lengths, per_clip), pool_clips(sound, lengths,
                                                                                                  per_clip)))
    with pytest.raises(ValueError, match="sound_block"):
        TaggerSettings(labels=["dog"], width=4, sound_block=True)


def test_a_one_layer_tagger_beside_a_sound_encoder_normalises_the_two_encoders_apart(tmp_path):
    """Pooled frames [Whisper's mean (4), sound's mean (2), Whisper's max (4), sound's max (2)]: with `sound_width`
    each encoder's part is normalised alone, so scaling one encoder's frames leaves the tags as they were, as it
    does not when both share one normalisation."""
    torch.manual_seed(0)
    pooled = torch.randn(5, 1, 12)  # A, 1, 2 (C + E), C + E = 6, E = 2
    sound = torch.zeros(12, dtype=torch.bool)
    sound[[4, 5, 10, 11]] = True
    louder = torch.where(sound, pooled * 50, pooled)
    apart = SoundTagger(TaggerSettings(labels=["dog", "rain", "bell"], width=6, kind="softmax", sound_width=2))
    together = SoundTagger(TaggerSettings(labels=["dog", "rain", "bell"], width=6, kind="softmax"))
    for tagger in (apart, together):
        torch.nn.init.normal_(tagger.head.weight)
    torch.testing.assert_close(apart.clip_probabilities(louder), apart.clip_probabilities(pooled), atol=1e-4, rtol=0)
    assert not torch.allclose(together.clip_probabilities(louder), together.clip_probabilities(pooled), atol=1e-2)
    apart.save(tmp_path)
    torch.testing.assert_close(SoundTagger.load(tmp_path).clip_probabilities(pooled), apart.clip_probabilities(pooled))
    with pytest.raises(ValueError, match="sound_width"):
        TaggerSettings(labels=["dog"], width=6, layers=2, sound_width=2)


def test_sound_names_cover_a_labels_usual_parents_not_a_mixed_clips_background():
    labels = [["dog", "animal"]] * 4 + [["cat", "animal"]] * 3 + [["dog", "animal", "rain", "weather"]] + \
        [["rain", "weather"]] * 3 + [["wolf", "animal"]]
    vocab = vocabulary(labels, min_clips=2)
    assert sound_names(labels, vocab, min_clips=2) == {"animal": ["cat", "dog"], "cat": ["cat"], "dog": ["dog"],
                                                       "rain": ["rain"], "weather": ["rain"]}
    assert sound_names(labels, ["dog", "animal"], 2, kind="sigmoid") == {"dog": ["dog"], "animal": ["animal"]}


def test_training_prompts_carry_the_asked_sounds_of_their_question(tiny_config):
    """`StageTags.asked` finds the names in the rendered prompt, the model's system prompt left out, as inference does."""
    config = tiny_config()
    processor = AlmProcessor.from_config(config)
    tagger = asking_tagger(top_k=1, threshold=0.0)
    tags = StageTags(tagger, {"a.wav": torch.tensor([0.1, 0.6, 0.1, 0.1, 0.1])}, config.system_prompt)
    question = [{"role": "user", "content": clips_then_text(1, "Is there a dog or a drum?")}]
    prompt = processor.render(question, add_generation_prompt=True)
    assert tags.top("a.wav") == [("cat", 0.6)]
    assert tags.asked(["a.wav"], prompt) == [[("dog", 0.1), ("drum", 0.2)]]
    assert tags.asked(["a.wav"], processor.render([{"role": "user", "content": clips_then_text(1, "What is it?")}],
                                                  add_generation_prompt=True)) is None
    assert StageTags(tagger, tags.probs, "You hear every dog.").asked(
        ["a.wav"], processor.render([{"role": "system", "content": "You hear every dog."},
                                     {"role": "user", "content": clips_then_text(1, "What is it?")}], True)) is None
    conv = Conversation(question, [tone(440)], tags=[tags.top("a.wav")], asked=tags.asked(["a.wav"], prompt))
    text = processor.tokenizer.decode(processor.batch([conv])["input_ids"][0])
    assert "(sound tags: cat 0.60; asked: dog 0.10, drum 0.20)\nIs there a dog or a drum?" in text


def test_pool_clips_weights_window_means_by_their_real_frames():
    frames = torch.zeros(3, 4, 2)
    frames[0, :2] = 1.0
    frames[1, :4] = 2.0
    frames[2, :1] = 5.0
    frames[0, 2:] = 99.0  # padding: ignored
    lengths = torch.tensor([2, 4, 1])
    stats = window_stats(frames, lengths)  # W, 2C
    torch.testing.assert_close(stats[0], torch.tensor([1.0, 1.0, 1.0, 1.0]))
    pooled = pool_clips(stats[:, None], lengths, [2, 1])  # clip 1: windows 0 and 1; clip 2: window 2
    assert pooled.shape == (2, 1, 4)
    torch.testing.assert_close(pooled[0, 0], torch.tensor([10 / 6, 10 / 6, 2.0, 2.0]))  # mean of 2x1 and 4x2; max
    torch.testing.assert_close(pooled[1, 0], torch.tensor([5.0, 5.0, 5.0, 5.0]))


def test_encoder_layer_stats_end_with_the_final_frames_and_leave_them_unchanged(tiny_model):
    model, processor = tiny_model()
    batch = processor.audio_features([tone(440, 1.3), tone(880, 0.4)])
    mel, mel_lengths = batch["audio_mel"], batch["audio_mel_lengths"]
    with torch.no_grad():
        frames, lengths = model.audio_encoder(mel, mel_lengths)
        again, _, stats = model.audio_encoder.encode(mel, mel_lengths, 2)  # the tiny encoder's 2 layers
        _, _, last = model.audio_encoder.encode(mel, mel_lengths, 1)
    assert torch.equal(frames, again) and stats.shape == (2, 2, 2 * frames.shape[-1])
    torch.testing.assert_close(stats[:, 1], window_stats(frames, lengths))
    torch.testing.assert_close(last[:, 0], window_stats(frames, lengths))
    assert not torch.allclose(stats[:, 0], stats[:, 1])  # the first layer's own stats
    with pytest.raises(ValueError, match="3 layers asked for; this encoder has 2"):
        model.audio_encoder.encode(mel, mel_lengths, 3)


def test_encoder_layers_run_in_two_parts_give_what_one_pass_gives(tiny_model):
    model, processor = tiny_model()
    batch = processor.audio_features([tone(440, 1.3), tone(880, 0.4)])
    mel, mel_lengths = batch["audio_mel"], batch["audio_mel_lengths"]
    encoder = model.audio_encoder
    with torch.no_grad():
        frames, lengths, stats = encoder.encode(mel, mel_lengths, 2)
        x, split_lengths = encoder.embed(mel, mel_lengths)
        below, lower = encoder.run_layers(x, split_lengths, stop=1, stats_layers=2)
        above, upper = encoder.run_layers(below, split_lengths, start=1, stats_layers=2)
    assert torch.equal(split_lengths, lengths) and len(lower) == 1 and len(upper) == 1
    torch.testing.assert_close(above, frames)
    torch.testing.assert_close(torch.stack(lower + upper, 1), stats)
    assert not torch.allclose(below, frames)  # the first part stops before the last layer and the final norm


def test_a_tagger_reading_two_layers_tags_through_the_model_and_round_trips(tiny_model, tmp_path):
    model, processor = tiny_model()
    model.tagger = SoundTagger(TaggerSettings(labels=["dog", "rain", "bell"], width=model.config.frame_width,
                                              top_k=2, threshold=0.0, kind="softmax", layers=2))
    batch = processor.audio_features([tone(440, 1.3), tone(880, 31.0)])
    with torch.no_grad():
        frames, lengths, stats = model.encode_windows(batch["audio_mel"], batch["audio_mel_lengths"], tag_stats=True)
    assert stats.shape == (3, 2, 2 * frames.shape[-1])  # the second clip has two windows
    tags = model.clip_tags(stats, lengths, batch["audio_num_windows"].tolist())
    assert [len(t) for t in tags] == [2, 2]
    model.tagger.save(tmp_path)
    assert json.loads((tmp_path / TAGGER_FILE).read_text())["layers"] == 2
    assert SoundTagger.load(tmp_path).tags(pool_clips(stats, lengths, [1, 2])) == tags


def test_balanced_subset_by_source_takes_clips_of_a_label_in_turn_from_its_sources():
    labels = [["dog", "animal"]] * 50 + [["dog", "animal"]] * 4 + [["rain"]] * 60
    origins = ["farm"] * 50 + ["street"] * 4 + ["a"] * 20 + ["b"] * 20 + ["c"] * 20
    data = TaggerData([f"clip{i}.wav" for i in range(len(labels))], labels, origins)
    subset = balanced_subset(data, per_label=10, seed=0, by_source=True)
    drawn = Counter(zip((clip[0] for clip in subset.labels), subset.origins))
    assert drawn[("dog", "street")] == 4 and drawn[("dog", "farm")] == 6  # the small source gives all it has
    assert sorted(drawn[("rain", source)] for source in "abc") == [3, 3, 4]
    assert balanced_subset(data, per_label=10, seed=0, by_source=True).paths == subset.paths  # seeded
    plain = balanced_subset(data, per_label=10, seed=0)
    assert Counter(clip[0] for clip in plain.labels) == {"dog": 10, "rain": 10}


def test_source_folds_tag_each_clip_with_a_tagger_that_never_heard_its_source(monkeypatch):
    import training.tagger as tagger_module

    labels, feats = separable_clips()
    feats[:, -1] = torch.arange(len(labels), dtype=feats.dtype)  # each row names its clip
    groups = [f"source{i % 7}" for i in range(len(labels))]
    assert fold_of_groups(groups, 3) == fold_of_groups(groups, 3)
    folds = fold_of_groups(groups, 3)
    assert all(len({f for f, g in zip(folds, groups) if g == group}) == 1 for group in set(groups))
    assert max(Counter(folds).values()) - min(Counter(folds).values()) <= 9  # 7 sources of 8-9 clips in 3 folds
    fitted_on = []  # the clips each fold's tagger was fit on
    real_fit = tagger_module.fit

    def recording_fit(x, *args, **kwargs):
        fitted_on.append(x[:, -1].long().tolist())
        return real_fit(x, *args, **kwargs)

    monkeypatch.setattr(tagger_module, "fit", recording_fit)
    vocab = vocabulary(labels, min_clips=2)
    settings = TaggerSettings(labels=vocab, width=4, top_k=1, threshold=0.0, kind="softmax")
    held_out = cross_fit_tags(feats, targets(labels, vocab), settings, folds=3, groups=groups, steps=50)
    assert len(fitted_on) == 3 and all(tags for tags in held_out)
    for trained in fitted_on:
        heard = {groups[i] for i in trained}
        untagged = [i for i in range(len(labels)) if i not in trained]
        assert untagged and not heard & {groups[i] for i in untagged}


def speech_tagger(**settings) -> SoundTagger:
    return SoundTagger(TaggerSettings(labels=["speech", "dog", "rain"], width=4, kind="softmax",
                                      names={"speech": ["speech"], "dog": ["dog"], "rain": ["rain"]},
                                      asked_threshold=0.22, asked_top=True, **settings))


GATE_PROBS = torch.tensor([[0.50, 0.30, 0.20],   # speech first: heard
                           [0.10, 0.70, 0.20],   # a dog, speech 0.10: no transcript
                           [0.30, 0.45, 0.25],   # a dog, yet speech 0.30, over the threshold: heard
                           [0.215, 0.5, 0.285]])  # speech 0.215, shown as 0.22: heard, as the notes say "likely"


def test_the_speech_gate_withholds_transcripts_of_clips_whose_speech_the_notes_call_unlikely(tmp_path):
    gated = speech_tagger(speech_gate=True)
    assert gated.hears_speech(GATE_PROBS) == [True, False, True, True]
    assert [row[0][2] == "likely" for row in gated.asked_tags(GATE_PROBS, ["speech"])] == [True, False, True, True]
    assert speech_tagger().hears_speech(GATE_PROBS) == [True] * 4  # no gate: every clip may have one
    no_threshold = speech_tagger(speech_gate=True)
    no_threshold.settings.asked_threshold = None
    assert no_threshold.hears_speech(GATE_PROBS) == [True, False, False, False]  # only where speech comes first
    gated.save(tmp_path)
    assert SoundTagger.load(tmp_path).settings.speech_gate
    with pytest.raises(ValueError, match="speech_gate: the gate reads the probability of the name 'speech'"):
        TaggerSettings(labels=["dog"], width=4, kind="softmax", names={"dog": ["dog"]}, speech_gate=True)


class _CountingTranscriber:
    def __init__(self):
        self.heard = 0

    def transcribe(self, wave):
        self.heard += 1
        return "hello there"


@pytest.mark.parametrize("gate", [False, True])
def test_an_assistant_with_the_speech_gate_does_not_transcribe_clips_its_tagger_hears_no_speech_in(tiny_model, gate,
                                                                                                    monkeypatch):
    from alm.inference import Assistant

    model, processor = tiny_model()
    model.config.sound_tags = True
    model.tagger = speech_tagger(speech_gate=gate)
    whisper = _CountingTranscriber()
    assistant = Assistant(model, processor, transcriber=whisper)
    asked = []
    monkeypatch.setattr(assistant, "_clip_probabilities", lambda audios: asked.append(len(audios)) or GATE_PROBS)
    clips = [tone(440 + 110 * k, 0.5 + 0.1 * k) for k in range(4)]
    expected = ["hello there", "" if gate else "hello there", "hello there", "hello there"]
    assert assistant.transcribe(clips) == expected
    assert whisper.heard == (3 if gate else 4) and asked == ([4] if gate else [])  # a gated clip is not decoded
    asked.clear()
    conv = assistant.with_notes(Conversation([{"role": "user", "content": clips_then_text(4, "What is it?")}], clips))
    assert conv.transcripts == expected and conv.tags is not None
    assert asked == [4]  # one tagger pass serves the gate and the tags


class _ScriptedTranscriber:
    """Whisper's transcripts in turn, counting the clips decoded."""

    def __init__(self, texts):
        self.texts, self.heard = list(texts), 0

    def transcribe(self, wave):
        self.heard += 1
        return self.texts[self.heard - 1]


def test_the_speech_gate_keeps_a_long_transcript_the_tagger_hears_no_speech_in_when_told_to(tiny_model, monkeypatch):
    """`speech_gate_words`: a vetoed clip is decoded too, and keeps a transcript of that many distinct words or more."""
    from alm.inference import Assistant
    from alm.model.tagger import distinct_words

    assert distinct_words("Oh, oh, OH!") == 1 and distinct_words("Please enter the channel number.") == 5
    assert distinct_words("") == 0
    tagger = speech_tagger(speech_gate=True, speech_gate_words=4)
    assert [tagger.keeps_transcript(t, False) for t in ("Thank you.", "Oh, oh, oh, oh, oh", "Set an alarm now")] == \
        [False, False, True]
    assert tagger.keeps_transcript("Hi.", True)  # where the tagger hears speech, any transcript is kept
    model, processor = tiny_model()
    model.config.sound_tags = True
    model.tagger = tagger
    probs = torch.cat([GATE_PROBS[1:2]] * 3)  # the tagger hears no speech in any of the three clips
    whisper = _ScriptedTranscriber(["Thank you.", "Please enter the channel number.", "Oh, oh, oh, oh, oh, oh."])
    assistant = Assistant(model, processor, transcriber=whisper)
    monkeypatch.setattr(assistant, "_clip_probabilities", lambda audios: probs)
    clips = [tone(440 + 110 * k, 0.5) for k in range(3)]
    assert assistant.transcribe(clips) == ["", "Please enter the channel number.", ""]
    assert whisper.heard == 3  # every vetoed clip decoded, as its transcript might be kept
    with pytest.raises(ValueError, match="speech_gate_words -1"):
        speech_tagger(speech_gate=True, speech_gate_words=-1)
    with pytest.raises(ValueError, match="only with speech_gate"):
        speech_tagger(speech_gate_words=4)


def test_under_the_speech_gate_floor_a_clip_is_not_decoded_even_for_a_long_transcript(tiny_model, monkeypatch):
    """`speech_gate_floor`: a vetoed clip whose "speech" is under the floor keeps no transcript and costs no decode;
    one at or over it is decoded for `speech_gate_words` as before."""
    from alm.errors import AlmError
    from alm.inference import Assistant
    from training.tagger import TaggerPlan, stage_tags

    tagger = speech_tagger(speech_gate=True, speech_gate_words=4, speech_gate_floor=0.05)
    probs = torch.tensor([[0.02, 0.90, 0.08],   # speech 0.02: under the floor
                          [0.10, 0.70, 0.20],   # speech 0.10: vetoed, over the floor
                          [0.50, 0.30, 0.20]])  # speech first: heard
    assert tagger.hears_speech(probs) == [None, False, True]
    assert not tagger.keeps_transcript("Please enter the channel number.", None)
    assert tagger.keeps_transcript("Please enter the channel number.", False)
    model, processor = tiny_model()
    model.config.sound_tags = True
    model.tagger = tagger
    whisper = _ScriptedTranscriber(["Please enter the channel number.", "Hi."])
    assistant = Assistant(model, processor, transcriber=whisper)
    monkeypatch.setattr(assistant, "_clip_probabilities", lambda audios: probs)
    clips = [tone(440 + 110 * k, 0.5) for k in range(3)]
    assert assistant.transcribe(clips) == ["", "Please enter the channel number.", "Hi."]
    assert whisper.heard == 2  # the clip under the floor is not decoded
    assert speech_tagger(speech_gate=True, speech_gate_words=4).hears_speech(probs) == [False, False, True]
    with pytest.raises(ValueError, match="speech_gate_floor 0.05: expected a probability in \\[0, 1\\), and only "
                                         "with speech_gate_words"):
        speech_tagger(speech_gate=True, speech_gate_floor=0.05)
    with pytest.raises(AlmError, match="speech_gate_floor: a rule of speech_gate_words"):
        stage_tags(None, None, None, "corpus", [], TaggerPlan(speech_gate=True, asked=True, asked_verdict=True,
                                                              speech_gate_floor=0.05), 0, None)


def test_a_training_stage_decodes_only_the_clips_its_speech_gate_may_keep_a_transcript_of(monkeypatch):
    """Training gates as `Assistant.transcribe` does: a clip under the floor is not decoded (a corpus is mostly sound
    effects, so this spares most of a stage's Whisper decodes), a vetoed one keeps only a long transcript."""
    from types import SimpleNamespace

    from training import recipe

    probs = torch.tensor([[0.02, 0.90, 0.08],   # a: speech 0.02, under the floor
                          [0.10, 0.70, 0.20],   # b: vetoed, over the floor: decoded, kept only if long
                          [0.10, 0.70, 0.20],   # c: the same, a short transcript
                          [0.50, 0.30, 0.20]])  # d: speech first: heard
    paths = ["d", "a", "b", "c", "a"]
    tagger = speech_tagger(speech_gate=True, speech_gate_words=4, speech_gate_floor=0.05)
    tags = StageTags(tagger, dict(zip("abcd", probs)), None)
    heard = {"b": "Please enter the channel number.", "c": "Thank you.", "d": "Hi."}
    decoded = []

    def stage_transcripts(config, model_config, clips, accelerator, progress):
        decoded.extend(clips)
        return {p: heard[p] for p in clips}, {"dir": "tc", "precompute_hits": 0, "precompute_misses": len(clips)}

    monkeypatch.setattr(recipe, "stage_transcripts", stage_transcripts)
    stage = SimpleNamespace(model=SimpleNamespace(config=SimpleNamespace(speech_transcripts=True)), config=None,
                            accelerator=None, progress=False, main=True, say=lambda text: None)
    texts = recipe.StageRecipe._setup_transcripts(stage, paths, tags)
    assert decoded == ["b", "c", "d"]
    assert texts == {"a": "", "b": "Please enter the channel number.", "c": "", "d": "Hi."}
    assert (stage.transcript_stats["tagger_not_decoded"], stage.transcript_stats["tagger_gated"]) == (1, 1)
    ungated = recipe.StageRecipe._setup_transcripts(stage, ["b", "c"], None)  # no tagger: every clip, as heard
    assert ungated == {"b": heard["b"], "c": heard["c"]} and "tagger_gated" not in stage.transcript_stats


def test_an_assistant_computes_each_clips_tagger_probabilities_once_across_calls(tiny_model, monkeypatch):
    """`alm ask` and the server transcribe behind the speech gate before the tags: the second pass finds them kept."""
    from alm.inference import Assistant

    model, processor = tiny_model()
    model.config.sound_tags = True
    model.tagger = speech_tagger(speech_gate=True)
    assistant = Assistant(model, processor, transcriber=_CountingTranscriber())
    encoded = []
    monkeypatch.setattr(assistant, "_encode_probabilities",
                        lambda audios: encoded.append(len(audios)) or GATE_PROBS[:len(audios)])
    clips = [tone(440 + 110 * k, 0.5 + 0.1 * k) for k in range(2)]
    transcripts = assistant.transcribe(clips)
    conv = assistant.with_notes(Conversation([{"role": "user", "content": clips_then_text(2, "What is it?")}], clips,
                                             transcripts))
    assert transcripts == ["hello there", ""] and conv.tags is not None
    assert encoded == [2]  # the tags found what the gate computed
    assistant.with_notes(Conversation([{"role": "user", "content": clips_then_text(2, "And now?")}], clips[::-1]))
    assert encoded == [2]  # the same clips in another order: still kept
    assistant.tag([tone(1000, 0.4)])
    assert encoded == [2, 1]  # a new clip is computed alone
