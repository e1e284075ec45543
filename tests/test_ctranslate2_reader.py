"""The CTranslate2 model.bin reader on a small synthetic file."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import struct
from pathlib import Path

import numpy as np
import pytest

from alm.errors import WeightsError
from alm.weights.ctranslate2 import parse_model_bin, read_model_bin

CODES = {np.dtype("float32"): 0, np.dtype("int8"): 1, np.dtype("int16"): 2, np.dtype("int32"): 3,
         np.dtype("float16"): 4}


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def _variable(name: str, array: np.ndarray, code: int | None = None) -> bytes:
    code = CODES[array.dtype] if code is None else code
    head = _string(name) + struct.pack("<B", array.ndim) + struct.pack(f"<{array.ndim}I", *array.shape)
    return head + struct.pack("<BI", code, array.nbytes) + array.astype(array.dtype.newbyteorder("<")).tobytes()


def _model_bin(variables: dict[str, np.ndarray], aliases: dict[str, str], bf16: dict[str, np.ndarray]) -> bytes:
    out = struct.pack("<I", 6) + _string("TestSpec") + struct.pack("<II", 3, len(variables) + len(bf16))
    out += b"".join(_variable(name, array) for name, array in variables.items())
    out += b"".join(_variable(name, bits, code=5) for name, bits in bf16.items())
    out += struct.pack("<I", len(aliases)) + b"".join(_string(a) + _string(t) for a, t in aliases.items())
    return out


@pytest.fixture
def synthetic() -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    variables = {
        "encoder/conv1/weight": rng.standard_normal((4, 3, 3)).astype(np.float16),
        "decoder/embeddings/weight": rng.standard_normal((5, 2)).astype(np.float32),
        "encoder/num_heads": np.array(6, dtype=np.int16),
        "decoder/activation": np.array(3, dtype=np.int8),
        "ids": np.arange(-3, 4, dtype=np.int32),
        "empty": np.zeros((0, 2), dtype=np.float32),
    }
    bf16 = {"scale": np.array([0x3F80, 0xC000], dtype=np.uint16)}  # 1.0, -2.0 as bfloat16 bits
    return variables, {"decoder/projection/weight": "decoder/embeddings/weight"}, bf16


def test_reader_returns_every_variable_exactly(tmp_path: Path, synthetic) -> None:
    variables, aliases, bf16 = synthetic
    path = tmp_path / "model.bin"
    path.write_bytes(_model_bin(variables, aliases, bf16))
    model = read_model_bin(path)
    assert (model.name, model.revision) == ("TestSpec", 3)
    for name, expected in variables.items():
        got = model.variables[name]
        assert got.dtype == expected.dtype and got.shape == expected.shape, name
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(model.variables["scale"], bf16["scale"])
    assert model.bfloat16 == {"scale"}
    assert model.aliases == aliases
    assert model.variables["decoder/projection/weight"] is model.variables["decoder/embeddings/weight"]


def test_truncated_file_is_a_weights_error(tmp_path: Path, synthetic) -> None:
    data = _model_bin(*synthetic)
    for cut in (3, 40, len(data) - 1):
        with pytest.raises(WeightsError, match="truncated"):
            parse_model_bin(data[:cut])
    path = tmp_path / "model.bin"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated"):
        read_model_bin(path)


def test_unsupported_version_and_trailing_bytes(synthetic) -> None:
    data = _model_bin(*synthetic)
    with pytest.raises(WeightsError, match="version 5"):
        parse_model_bin(struct.pack("<I", 5) + data[4:])
    with pytest.raises(WeightsError, match="unexpected bytes"):
        parse_model_bin(data + b"\0")
