"""`builtin:yamnet`: the ONNX reader its converter uses, the network frame by frame, its features, and a model that
reads it beside Whisper (random weights; the real ones are checked in tests/integration/test_offline_weights.py)."""

import json

import numpy as np
import pytest
import torch

from alm.audio.sound_features import CNN_MARKER, YAMNET_LOG_OFFSET, SoundFeatures, yamnet_log_mel
from alm.conversation import Conversation, clips_then_text
from alm.errors import AlmError, WeightsError
from alm.model import AlmForConditionalGeneration
from alm.model.sound_encoder import load_sound_encoder, sound_encoder_for_config
from alm.model.tagger import SoundTagger, TaggerSettings, whisper_blocks, with_sound_block
from alm.model.yamnet import Yamnet, save_yamnet
from alm.processor import AlmProcessor
from alm.weights.yamnet_onnx import float_initializers, yamnet_state
from conftest import tone


def _varint(n: int) -> bytes:
    out = b""
    while True:
        out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            return out


def _field(number: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _tensor(name: str, values: np.ndarray, external: tuple[int, int] | None = None, dtype: int = 1) -> bytes:
    """A TensorProto: dims (one field each), data_type, name, then raw data or an external location."""
    out = b"".join(_field(1, d) for d in values.shape) + _field(2, dtype) + _field(8, name.encode())
    if external is None:
        return out + _field(9, values.astype("<f4").tobytes())
    entries = [("location", "model.data"), ("offset", str(external[0])), ("length", str(external[1]))]
    out += b"".join(_field(13, _field(1, k.encode()) + _field(2, v.encode())) for k, v in entries)
    return out + _field(14, 1)


def test_the_onnx_reader_finds_float_initializers_inline_and_external_and_skips_the_rest():
    inline = np.arange(6, dtype=np.float32).reshape(2, 3)
    outside = np.linspace(-1, 1, 4, dtype=np.float32)
    data = b"\0" * 8 + outside.astype("<f4").tobytes()
    graph = (_field(1, b"\x0a\x01x")  # a node, skipped
             + _field(5, _tensor("w", inline)) + _field(5, _tensor("ext", outside, external=(8, 16)))
             + _field(5, _field(1, 2) + _field(2, 3) + _field(8, b"zero_point")))  # int8: not a float tensor
    model = _field(1, 8) + _field(7, graph)  # ir_version, graph
    found = float_initializers(model, data)
    assert sorted(found) == ["ext", "w"]
    np.testing.assert_array_equal(found["w"], inline)
    np.testing.assert_array_equal(found["ext"], outside)
    with pytest.raises(WeightsError, match="no graph"):
        float_initializers(_field(1, 8), b"")


def test_the_export_maps_onto_the_network_in_graph_order_and_a_wrong_shape_is_refused():
    expected = Yamnet().state_dict()
    convs = [k for k in expected if k.startswith("layers.")]
    initializers = {}
    for i, (weight, bias) in enumerate(zip(convs[::2], convs[1::2])):
        number = 241 + 3 * i  # the export's numbering: weight N, bias N + 1
        initializers[f"onnx::Conv_{number}"] = np.full(expected[weight].shape, i, np.float32)
        initializers[f"onnx::Conv_{number + 1}"] = np.full(expected[bias].shape, -i, np.float32)
    initializers["model.classifier.weight"] = np.ones((521, 1024), np.float32)
    initializers["model.classifier.bias"] = np.zeros(521, np.float32)
    state = yamnet_state(initializers)
    assert state["layers.0.weight"].unique().tolist() == [0.0] and state[convs[-2]].unique().tolist() == [26.0]
    assert state[convs[-1]].unique().tolist() == [-26.0]
    Yamnet().load_state_dict(state)
    initializers["onnx::Conv_244"] = np.zeros((32, 1, 5, 5), np.float32)
    with pytest.raises(WeightsError, match=r"onnx::Conv_244: shape \(32, 1, 5, 5\), expected \(32, 1, 3, 3\)"):
        yamnet_state(initializers)


def test_features_are_yamnets_log_mel():
    wave = tone(1000, 2.0)
    spec = yamnet_log_mel(wave)
    assert spec.shape == (64, 1 + (len(wave) - 400) // 160)
    mel = 1127 * np.log1p(np.array([125.0, 1000.0, 7500.0]) / 700)  # HTK mel of the range and the tone
    band = (mel[1] - mel[0]) / ((mel[2] - mel[0]) / 65) - 1  # the band centred on 1 kHz: 19.6 of 64
    assert abs(int(spec.mean(1).argmax()) - band) <= 1
    assert yamnet_log_mel(np.zeros(100, np.float32)).shape == (64, 1)  # shorter than one frame
    np.testing.assert_allclose(yamnet_log_mel(np.zeros(800, np.float32)), YAMNET_LOG_OFFSET, atol=1e-6)


@torch.no_grad()
def test_frames_every_32_spectrogram_frames_each_window_alone_at_its_own_length():
    torch.manual_seed(0)
    net = Yamnet().eval()
    long, short = (torch.from_numpy(yamnet_log_mel(tone(f, s))) for f, s in ((440, 3.0), (880, 0.5)))
    assert short.shape[1] < 96  # shorter than one patch
    batch = torch.full((2, 64, long.shape[1]), 0.0)
    batch[0], batch[1, :, :short.shape[1]] = long, short
    frames, lengths = net(batch, torch.tensor([long.shape[1], short.shape[1]]))
    assert lengths.tolist() == [-(-long.shape[1] // 32), 3] and frames.shape == (2, lengths[0], 1024)
    alone, _ = net(short[None], torch.tensor([short.shape[1]]))
    torch.testing.assert_close(frames[1, :3], alone[0])  # as alone, whatever the batch's padding
    assert frames[1, 3:].abs().sum() == 0
    patch = torch.full((1, 64, 96), YAMNET_LOG_OFFSET)
    patch[..., :short.shape[1]] = short
    torch.testing.assert_close(net(patch, torch.tensor([96]))[0], alone)  # a short window is padded with silence
    assert net.classify(frames).shape == (2, lengths[0], 521)


def test_a_model_reads_yamnet_beside_whisper_and_round_trips(tiny_config, tmp_path):
    torch.manual_seed(0)
    folder = tmp_path / "yamnet"
    folder.mkdir()
    save_yamnet(Yamnet().state_dict(), [f"class {i}" for i in range(521)], folder)
    assert json.loads((folder / CNN_MARKER).read_text())["kind"] == "yamnet"
    assert isinstance(load_sound_encoder(str(folder)), Yamnet) and isinstance(sound_encoder_for_config(str(folder)),
                                                                               Yamnet)
    assert SoundFeatures.for_encoder(str(folder)).kind == "yamnet"
    config = tiny_config(sound_encoder=str(folder))
    processor = AlmProcessor.from_config(config)
    model = AlmForConditionalGeneration.from_bases(config)
    for key, value in Yamnet.from_folder(folder).state_dict().items():  # not initialised anew by post_init
        torch.testing.assert_close(model.sound_encoder.state_dict()[key], value, atol=0, rtol=0)
    assert config.sound_width == 1024 and config.frame_width == config.audio_config.d_model + 1024
    conv = Conversation([{"role": "user", "content": clips_then_text(1, "What is it?")}], [tone(300, 1.5)])
    batch = processor.batch([conv])
    assert batch["sound_features"].shape[:2] == (1, 64)
    model.eval()
    with torch.no_grad():
        before = model(**batch).logits
    model.save_pretrained(tmp_path / "ckpt", processor=processor)
    loaded = AlmForConditionalGeneration.from_pretrained(tmp_path / "ckpt")
    with torch.no_grad():
        torch.testing.assert_close(loaded(**AlmProcessor.from_pretrained(tmp_path / "ckpt").batch([conv])).logits,
                                   before, atol=0, rtol=0)


def test_a_sound_encoder_for_the_tagger_alone_leaves_the_aligner_whisper_frames(tiny_config, tmp_path):
    """`sound_to_aligner: false` (`scripts/tagger_swap.py`): the aligner takes Whisper's frames as a model without a
    sound encoder does, and the tagger reads the encoder as one more block; it needs a tagger reading that block."""
    torch.manual_seed(0)
    folder = tmp_path / "yamnet"
    folder.mkdir()
    save_yamnet(Yamnet().state_dict(), [f"class {i}" for i in range(521)], folder)
    with pytest.raises(ValueError, match="needs sound_encoder and sound_tags"):
        tiny_config(sound_encoder=str(folder), sound_to_aligner=False).validate_alm()
    config = tiny_config(sound_encoder=str(folder), sound_to_aligner=False, sound_tags=True)
    processor = AlmProcessor.from_config(config)
    model = AlmForConditionalGeneration.from_bases(config)
    C = config.audio_config.d_model
    assert config.frame_width == C
    feats = processor.audio_features([tone(300, 1.5)])
    frames, lengths = model.encode_frames(feats["audio_mel"], feats["audio_mel_lengths"], feats["sound_features"],
                                          feats["sound_lengths"])
    assert frames.shape[-1] == C
    layers = config.audio_config.encoder_layers
    model.tagger = SoundTagger(TaggerSettings(labels=["a", "b"], width=1024, kind="softmax", layers=layers,
                                              sound_block=True))
    _, _, stats = model.encode_windows(feats["audio_mel"], feats["audio_mel_lengths"], feats["sound_features"],
                                       feats["sound_lengths"], tag_stats=True)
    assert stats.shape == (1, layers + 1, 2 * 1024)  # W, K + 1, 2W: Whisper's blocks zero-padded to YAMNet's width
    model.tagger = SoundTagger(TaggerSettings(labels=["a", "b"], width=C, kind="softmax", layers=layers))
    with pytest.raises(AlmError, match="sound_block"):
        model.encode_windows(feats["audio_mel"], feats["audio_mel_lengths"], feats["sound_features"],
                             feats["sound_lengths"], tag_stats=True)


def test_heads_on_the_whisper_layers_alone_average_in_beside_the_sound_blocks_and_round_trip(tmp_path):
    """`layers_only`: M heads reading the Whisper layers alone (unpadded from the sound block's width) averaged with
    the N heads reading the layers and the block, weighted by their counts; fit, saved and loaded as one tagger."""
    from training.tagger import fit

    torch.manual_seed(0)
    layers, c, e = 2, 3, 5  # Whisper's width 3, the sound encoder's 5
    whisper, sound = torch.randn(12, layers, 2 * c), torch.randn(12, 1, 2 * e)
    pooled = with_sound_block(whisper, sound)  # 12, 3, 10
    target = torch.tensor([0, 1, 2] * 4)
    settings = TaggerSettings(labels=["a", "b", "c"], width=e, kind="softmax", layers=layers, sound_block=True,
                              ensemble=2, layers_only=3, layers_width=c)
    tagger = fit(pooled, target, settings, steps=20, batch_size=4)
    with_block, alone = tagger.members
    assert alone.settings.ensemble == 3 and not alone.settings.sound_block and alone.settings.width == c
    torch.testing.assert_close(whisper_blocks(pooled, settings), whisper)
    probs = tagger.clip_probabilities(pooled)
    torch.testing.assert_close(probs, (2 * with_block.clip_probabilities(pooled)
                                       + 3 * alone.clip_probabilities(whisper)) / 5)
    tagger.save(tmp_path)
    torch.testing.assert_close(SoundTagger.load(tmp_path).clip_probabilities(pooled), probs)
    with pytest.raises(ValueError, match="layers_width"):
        TaggerSettings(labels=["a"], width=e, kind="softmax", layers=layers, sound_block=True, layers_only=2)
