"""Writes data/dtype-cases.json: NumPy 1.24's float16 and casts, PyTorch 1.13's bfloat16, for dtype.test.ts.

    /usr/bin/python3 test/core/dtype_reference.py

float16: numpy's bits of float64 and float32 values rounded to float16 (round to nearest even, subnormals,
overflow to inf, NaN), and the float64 values of random float16 bits. bfloat16: torch's bits of float32 and
float64 values (numpy has no bfloat16). Casts: numpy's astype from float64 and int32 values to each
integer dtype, for values within int32's range (beyond it numpy's float -> int cast is platform specific).
"""
import json
import math
from pathlib import Path

import numpy as np
import torch

rng = np.random.default_rng(19)


def enc(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0 and math.copysign(1, v) < 0:
        return "-0"
    return v


specials = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 65504.0, 65505.0, 65519.99, 65520.0, 65536.0,
            1e6, -1e6, 2.0**-14, 2.0**-24, 2.0**-25, 2.0**-25 * 1.0000001, 3 * 2.0**-25, 2.0**-26, 1e-10,
            6.1e-5, 5.96e-8, 1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11, 1.0 + 2.0**-11 + 2.0**-40, 2048.0 + 1.0,
            2048.0 + 3.0, 0.1, 1 / 3, -2.5e-7, 3.4e38, 3.5e38, 1e-40, 1e-45, 2.0**-149]
# float64 values: spread over float16's range (exponents -30..17), with exact halfway ties
f64 = list(specials)
f64 += list(np.ldexp(rng.uniform(-1, 1, 1500), rng.integers(-30, 18, 1500)))
ties = np.ldexp(rng.integers(0, 2048, 300).astype(np.float64) * 2 + 1, rng.integers(-25, 5, 300))
f64 += list(ties * np.where(rng.random(300) < 0.5, -1, 1))
f64 = np.array(f64, dtype=np.float64)
# float32 values from random bits (every class: NaN, inf, subnormal) and from the float64 values
f32 = np.concatenate([rng.integers(0, 2**32, 2000, dtype=np.uint64).astype(np.uint32).view(np.float32),
                      f64.astype(np.float32)])
half_bits = rng.integers(0, 2**16, 3000).astype(np.uint16)
half_bits = np.concatenate([half_bits, np.array([0, 0x8000, 0x3c00, 0x7bff, 0x7c00, 0xfc00, 0x0001, 0x03ff,
                                                 0x0400, 0x8001], dtype=np.uint16)])


def bf16_bits(t):
    return [int(v) for v in t.to(torch.bfloat16).view(torch.int16).numpy().astype(np.uint16)]


def f32_bits_enc(a):
    return [int(v) for v in a.view(np.uint32)]


cast_floats = np.concatenate([np.array([0.0, -0.0, 0.5, -0.5, 0.99, -0.99, 127.5, 128.0, -128.5, -129.0, 255.0, 256.0,
                                        300.7, -1.0, -1.5, 32767.9, 32768.0, 65535.0, 65536.0, -32769.0,
                                        2147483647.0, -2147483648.0, 1e5, -1e5, 1e9, -1e9]),
                              rng.uniform(-3e4, 3e4, 200), rng.uniform(-2e9, 2e9, 200)])
cast_ints = np.concatenate([np.array([0, 1, -1, 127, 128, -128, -129, 255, 256, 300, 32767, 32768, -32768,
                                      -32769, 65535, 65536, 2**31 - 1, -2**31], dtype=np.int64),
                            rng.integers(-2**31, 2**31, 200)]).astype(np.int32)
INTS = ["uint8", "int8", "uint16", "int16", "uint32", "int32"]

cases = {
    "float16FromFloat64": {"in": [enc(v) for v in f64], "bits": [int(v) for v in f64.astype(np.float16).view(np.uint16)]},
    "float16FromFloat32": {"inBits": f32_bits_enc(f32), "bits": [int(v) for v in f32.astype(np.float16).view(np.uint16)]},
    "float16Values": {"bits": [int(v) for v in half_bits], "values": [enc(v) for v in half_bits.view(np.float16).astype(np.float64)]},
    "bfloat16FromFloat32": {"inBits": f32_bits_enc(f32), "bits": bf16_bits(torch.from_numpy(f32.copy()))},
    "bfloat16FromFloat64": {"in": [enc(v) for v in f64], "bits": bf16_bits(torch.from_numpy(f64.copy()))},
    "bfloat16Values": {"bits": [int(v) for v in half_bits],
                       "values": [enc(v) for v in torch.from_numpy(half_bits.astype(np.int16)).view(torch.bfloat16).float().numpy()]},
    "castFromFloat64": {"in": [enc(v) for v in cast_floats],
                        "out": {d: [int(v) for v in cast_floats.astype(d)] for d in INTS}},
    "castFromInt32": {"in": [int(v) for v in cast_ints],
                      "out": {d: [int(v) for v in cast_ints.astype(d)] for d in INTS}},
}
out = Path(__file__).parent / "data" / "dtype-cases.json"
out.parent.mkdir(exist_ok=True)
out.write_text(json.dumps(cases, separators=(",", ":")) + "\n")
print(f"wrote {out}")


# ---------------------------------------------------------------------------------------------------
# ops on the narrow dtypes (dtype-ops.test.ts): numpy's results, in the operands' dtype

def values_of(dtype, n):
    if dtype in ("float16",):
        v = np.where(rng.random(n) < 0.5, rng.integers(-40, 41, n) / 4, rng.normal(0, 1, n) * 10.0 ** rng.integers(-3, 5, n))
        v = np.where(rng.random(n) < 0.05, rng.choice([np.nan, np.inf, -np.inf, -0.0, 65504.0], n), v)
        return v.astype(dtype)
    info = np.iinfo(dtype)
    v = np.where(rng.random(n) < 0.5, rng.integers(max(info.min, -20), 21, n), rng.integers(info.min, info.max, n, endpoint=True))
    return v.astype(dtype)


def enc_values(a):
    return [enc(v) for v in a.astype(np.float64)]


ops_cases = []
N = 64
for dtype in ["uint8", "int8", "uint16", "int16", "uint32", "float16"]:
    x, y = values_of(dtype, N), values_of(dtype, N)
    with np.errstate(all="ignore"):
        binary = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "maximum": np.maximum,
                  "minimum": np.minimum}
        if dtype == "float16":
            binary.update({"divide": np.divide})
        else:
            y_nz = np.where(y == 0, 1, y).astype(dtype)
            ops_cases.append({"fn": "floorDivide", "dtype": dtype, "x": enc_values(x), "y": enc_values(y_nz),
                              "out": enc_values(np.floor_divide(x, y_nz))})
            ops_cases.append({"fn": "mod", "dtype": dtype, "x": enc_values(x), "y": enc_values(y_nz),
                              "out": enc_values(np.mod(x, y_nz))})
        for name, fn in binary.items():
            ops_cases.append({"fn": name, "dtype": dtype, "x": enc_values(x), "y": enc_values(y), "out": enc_values(fn(x, y))})
        unary = {"negative": np.negative, "abs": np.abs}
        if dtype == "float16":
            unary.update({"sqrt": np.sqrt, "square": np.square, "floor": np.floor})
        for name, fn in unary.items():
            ops_cases.append({"fn": name, "dtype": dtype, "x": enc_values(x), "out": enc_values(fn(x))})
cases["ops"] = ops_cases
out.write_text(json.dumps(cases, separators=(",", ":")) + "\n")
print(f"wrote {len(ops_cases)} op cases")
