"""A safetensors reader written from the format's description (struct + json + torch.frombuffer).

It does not use the `safetensors` package, so a file that reads here is read by the spec, not by
whatever our own encoder happens to do. Used by torch_interop.py; run alone it prints a summary:

    python3 read_safetensors.py FILE
"""

import json
import struct
import sys

import torch

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
ITEM_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate key in header: {keys}")
    return dict(pairs)


def read_safetensors(path):
    """Returns (tensors by name in header order, metadata dict); raises ValueError on a malformed file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("file shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        raise ValueError("header length beyond the file")
    header = json.loads(data[8 : 8 + header_len].decode("utf-8"), object_pairs_hook=_no_duplicates)
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError("metadata values must be strings")
    body = data[8 + header_len :]

    tensors = {}
    spans = []
    for name, info in header.items():
        dtype_name, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        numel = 1
        for d in shape:
            numel *= d
        if numel * ITEM_BYTES[dtype_name] != end - begin or end > len(body):
            raise ValueError(f"{name}: shape {shape} does not match data_offsets [{begin}, {end}]")
        spans.append((begin, end))
        dtype = DTYPES[dtype_name]
        if numel == 0:
            tensors[name] = torch.empty(shape, dtype=dtype)
            continue
        # bytearray: torch.frombuffer wants a writable buffer; the copy also aligns the data.
        flat = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype)
        if sys.byteorder != "little" and ITEM_BYTES[dtype_name] > 1:
            flat = torch.from_numpy(flat.numpy().byteswap())
        tensors[name] = flat.reshape(shape)

    expected = 0
    for begin, end in sorted(spans):
        if begin != expected:
            raise ValueError(f"tensors do not tile the data: expected offset {expected}, got {begin}")
        expected = end
    if expected != len(body):
        raise ValueError("trailing bytes after the last tensor")
    return tensors, metadata


if __name__ == "__main__":
    tensors, metadata = read_safetensors(sys.argv[1])
    summary = {name: {"dtype": str(t.dtype), "shape": list(t.shape)} for name, t in tensors.items()}
    print(json.dumps({"metadata": metadata, "tensors": summary}, indent=2))
