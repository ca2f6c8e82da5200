"""Regenerates the PyTorch reference data of test/golden/data (format: README.md beside this file).

    /usr/bin/python3 test/golden/generate.py OUT_DIR      # writes OUT_DIR/<file>.json.gz

Needs PyTorch (Debian's python3-torch, 1.13) and nothing else. Every case is computed in float64 on the
CPU with one thread. Each case seeds torch's generator from its name (`seed_of`) and then draws its
inputs in the order they are listed, then its random cotangent; so a run with the same PyTorch writes
the same numbers, and a case keeps its values when others are added or removed. The committed data was
made on Debian's reference BLAS (libblas3); with OpenBLAS as the system's libblas.so.3 some numbers
differ in their last bits, so put the reference library first to write the same bytes:

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/blas:/usr/lib/x86_64-linux-gnu/lapack /usr/bin/python3 ...
"""

import gzip
import json
import math
import platform
import subprocess
import sys
import zlib
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

import gen_seq_ops
import gen_seq_optim  # seq_optim.json (it imports this module's helpers back)
import gen_seq_rnn
import gen_seq_attn  # seq_attn.json (given this module's helpers when called)
import gen_linalg_qr_eigh  # linalg_qr_eigh.json (given this module's helpers when called)
import gen_linalg_degenerate  # linalg_degenerate.json (given this module's helpers when called)

F64 = torch.float64
BASE_SEED = 1


def seed_of(name):
    return BASE_SEED * 1_000_000 + zlib.crc32(name.encode()) % 1_000_000


# ---------------------------------------------------------------------------------------------------
# arrays and input generators (each draws from torch's global generator)


def arr(t):
    """A tensor as {"dtype", "shape", "data"}: row-major data, float64 or int64."""
    t = t.detach()
    if t.dtype == torch.int64:
        return {"dtype": "int64", "shape": list(t.shape), "data": [int(v) for v in t.flatten().tolist()]}
    return {"dtype": "float64", "shape": list(t.shape), "data": t.to(F64).flatten().tolist()}


def normal(scale=1.0):
    return lambda shape: torch.randn(shape, dtype=F64) if scale == 1.0 else torch.randn(shape, dtype=F64) * scale


def uniform(lo, hi):
    return lambda shape: torch.rand(shape, dtype=F64) * (hi - lo) + lo


def away_from_zero(lo, span):
    """|x| uniform in [lo, lo + span), either sign: keeps a divisor or a kink away from 0."""

    def draw(shape):
        magnitude = torch.rand(shape, dtype=F64) * span + lo
        return magnitude * (torch.randint(0, 2, shape) * 2 - 1)

    return draw


def distinct(lo, hi):
    """Values spread over [lo, hi) in random order, at least half a step apart: every argmax is unique."""

    def draw(shape):
        n = math.prod(shape)
        rank = torch.randperm(n).to(F64)
        jitter = torch.rand(n, dtype=F64)
        return (lo + (hi - lo) * (rank + 0.25 + 0.5 * jitter) / n).reshape(shape)

    return draw


def class_indices(classes):
    return lambda shape: torch.randint(0, classes, shape)


def hard_targets(shape):
    return torch.randint(0, 2, shape).to(F64)


def offset_rows(offsets, scale):
    """Logits around a large offset per row (+-800 and more), where a naive exp overflows."""
    return lambda shape: torch.randn(shape, dtype=F64) * scale + torch.tensor(offsets, dtype=F64)[:, None]


def fixed(values):
    return lambda shape: torch.tensor(values, dtype=F64).reshape(shape)


# ---------------------------------------------------------------------------------------------------
# vjp cases


def values_case(spec, outputs_of, draw):
    """Like vjp_case without a derivative (none exists): inputs, outputs (float or int64), no cotangent or grads."""
    name, op, expr, attrs, note, shapes = spec
    seed = seed_of(name)
    torch.manual_seed(seed)
    inputs = draw(shapes)
    with torch.no_grad():
        outputs = outputs_of(**inputs)
    case = {
        "name": name,
        "kind": "values",
        "op": op,
        "torch": expr,
        "attrs": attrs,
        "seed": seed,
        "inputs": {k: arr(t) for k, t in inputs.items()},
        "outputs": {k: arr(t) for k, t in outputs.items()},
    }
    if note is not None:
        case["note"] = note
    return case


def vjp_case(spec, outputs_of, draw, unit_cotangent, no_grad=(), intermediates_of=None):
    """One op case: inputs from `draw`, outputs, a cotangent per float output and the vector-Jacobian product."""
    name, op, expr, attrs, note, shapes = spec
    seed = seed_of(name)
    torch.manual_seed(seed)
    inputs = draw(shapes)
    wrt = [k for k, t in inputs.items() if t.is_floating_point() and k not in no_grad]
    for k in wrt:
        inputs[k].requires_grad_(True)
    outputs = outputs_of(**inputs)
    float_outputs = [k for k, t in outputs.items() if t.is_floating_point()]
    cotangent = {
        k: torch.ones_like(outputs[k]) if unit_cotangent else torch.randn(outputs[k].shape, dtype=F64)
        for k in float_outputs
    }
    grads = torch.autograd.grad(
        [outputs[k] for k in float_outputs], [inputs[k] for k in wrt], [cotangent[k] for k in float_outputs]
    )
    case = {
        "name": name,
        "kind": "vjp",
        "op": op,
        "torch": expr,
        "attrs": attrs,
        "seed": seed,
        "inputs": {k: arr(t) for k, t in inputs.items()},
        "outputs": {k: arr(t) for k, t in outputs.items()},
        "cotangent": {k: arr(t) for k, t in cotangent.items()},
        "grads": {k: arr(g) for k, g in zip(wrt, grads)},
    }
    if intermediates_of is not None:
        case["intermediates"] = {k: arr(t) for k, t in intermediates_of(**inputs).items()}
    if note is not None:
        case["note"] = note
    return case


def each(generator):
    """Draws every input with one generator, in the order of `shapes`."""
    return lambda shapes: {k: generator(s) for k, s in shapes.items()}


def per_input(**generators):
    return lambda shapes: {k: generators[k](s) for k, s in shapes.items()}


def apart(min_gap):
    """a and b redrawn together until no pair of (broadcast) elements is closer than min_gap: no ties."""

    def draw(shapes):
        while True:
            a, b = torch.randn(shapes["a"], dtype=F64), torch.randn(shapes["b"], dtype=F64)
            if (a - b).abs().min().item() >= min_gap:
                return {"a": a, "b": b}

    return draw


def out(fn):
    return lambda **kw: {"out": fn(**kw)}


def max_values_indices(dim, keepdim):
    def fn(x):
        values, indices = torch.max(x, dim=dim, keepdim=keepdim)
        return {"values": values, "indices": indices}

    return fn


BINARY = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}
UNARY = {"neg": torch.neg, "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt}
UNARY.update({"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu})

ELEMENTWISE = [
    ("add_3x1x4_2x4", "add", "torch.add(a, b)", {}, None, {"a": [3, 1, 4], "b": [2, 4]}),
    ("add_2x3_2x3", "add", "torch.add(a, b)", {}, None, {"a": [2, 3], "b": [2, 3]}),
    ("add_4x5_5", "add", "torch.add(a, b)", {}, None, {"a": [4, 5], "b": [5]}),
    ("add_4x1_1x5", "add", "torch.add(a, b)", {}, None, {"a": [4, 1], "b": [1, 5]}),
    ("add_2x3_0d", "add", "torch.add(a, b)", {}, None, {"a": [2, 3], "b": []}),
    ("sub_3x1x4_2x4", "sub", "torch.sub(a, b)", {}, None, {"a": [3, 1, 4], "b": [2, 4]}),
    ("mul_3x1x4_2x4", "mul", "torch.mul(a, b)", {}, None, {"a": [3, 1, 4], "b": [2, 4]}),
    ("div_3x1x4_2x4", "div", "torch.div(a, b)", {}, None, {"a": [3, 1, 4], "b": [2, 4]}),
    ("sub_4x1_1x5", "sub", "torch.sub(a, b)", {}, None, {"a": [4, 1], "b": [1, 5]}),
    ("mul_4x1_1x5", "mul", "torch.mul(a, b)", {}, None, {"a": [4, 1], "b": [1, 5]}),
    ("div_4x1_1x5", "div", "torch.div(a, b)", {}, None, {"a": [4, 1], "b": [1, 5]}),
    ("div_2x3x4_3x1", "div", "torch.div(a, b)", {}, None, {"a": [2, 3, 4], "b": [3, 1]}),
    ("neg", "neg", "torch.neg(x)", {}, None, {"x": [3, 4]}),
    ("exp", "exp", "torch.exp(x)", {}, None, {"x": [3, 4]}),
    ("log", "log", "torch.log(x)", {}, None, {"x": [3, 4]}),
    ("sqrt", "sqrt", "torch.sqrt(x)", {}, None, {"x": [3, 4]}),
    ("tanh", "tanh", "torch.tanh(x)", {}, None, {"x": [3, 4]}),
    ("sigmoid", "sigmoid", "torch.sigmoid(x)", {}, None, {"x": [3, 4]}),
    ("relu", "relu", "torch.relu(x)", {}, "inputs satisfy |x| >= 0.1", {"x": [3, 4]}),
    ("pow_scalar_2", "pow_scalar", "torch.pow(x, 2.0)", {"exponent": 2.0}, "base of either sign, |x| >= 0.1", {"x": [3, 4]}),
    ("pow_scalar_3", "pow_scalar", "torch.pow(x, 3.0)", {"exponent": 3.0}, "base of either sign, |x| >= 0.1", {"x": [3, 4]}),
    ("pow_scalar_2.5", "pow_scalar", "torch.pow(x, 2.5)", {"exponent": 2.5}, "positive base", {"x": [3, 4]}),
    ("pow_scalar_0.5", "pow_scalar", "torch.pow(x, 0.5)", {"exponent": 0.5}, "positive base", {"x": [3, 4]}),
    ("pow_scalar_-1.5", "pow_scalar", "torch.pow(x, -1.5)", {"exponent": -1.5}, "positive base", {"x": [3, 4]}),
    ("pow_tensor_3x4_4", "pow", "torch.pow(a, b)", {}, None, {"a": [3, 4], "b": [4]}),
    ("maximum_3x1x4_2x4", "maximum", "torch.maximum(a, b)", {}, None, {"a": [3, 1, 4], "b": [2, 4]}),
    ("maximum_3x4_3x4", "maximum", "torch.maximum(a, b)", {}, None, {"a": [3, 4], "b": [3, 4]}),
    ("minimum_3x4_3x4", "minimum", "torch.minimum(a, b)", {}, None, {"a": [3, 4], "b": [3, 4]}),
]


def elementwise(spec):
    name, op, _, attrs, _, _ = spec
    if op in BINARY:
        divisor = away_from_zero(0.5, 1.5) if op == "div" else normal()
        return vjp_case(spec, out(lambda a, b: BINARY[op](a, b)), per_input(a=normal(), b=divisor), False)
    if op in UNARY:
        draw = {
            "log": uniform(0.2, 3.0),
            "sqrt": uniform(0.2, 3.0),
            "tanh": normal(1.5),
            "sigmoid": normal(2.0),
            "relu": away_from_zero(0.1, 1.9),
        }.get(op, normal())
        return vjp_case(spec, out(lambda x: UNARY[op](x)), each(draw), False)
    if op == "pow_scalar":
        exponent = attrs["exponent"]
        draw = away_from_zero(0.1, 1.9) if exponent == int(exponent) else uniform(0.3, 2.0)
        return vjp_case(spec, out(lambda x: torch.pow(x, exponent)), each(draw), False)
    if op == "pow":
        return vjp_case(spec, out(lambda a, b: torch.pow(a, b)), per_input(a=uniform(0.5, 2.0), b=normal()), False)
    fn = torch.maximum if op == "maximum" else torch.minimum
    return vjp_case(spec, out(lambda a, b: fn(a, b)), apart(0.05), False)


REDUCTIONS = [
    ("sum_dim1", "sum", "torch.sum(x, dim=1, keepdim=False)", {"dim": 1, "keepdim": False}, None, {"x": [3, 4, 5]}),
    ("sum_dim1_keepdim", "sum", "torch.sum(x, dim=1, keepdim=True)", {"dim": 1, "keepdim": True}, None, {"x": [3, 4, 5]}),
    ("sum_dim-1", "sum", "torch.sum(x, dim=-1, keepdim=False)", {"dim": -1, "keepdim": False}, None, {"x": [3, 4, 5]}),
    ("sum_dims02", "sum", "torch.sum(x, dim=(0, 2), keepdim=False)", {"dim": [0, 2], "keepdim": False}, None, {"x": [3, 4, 5]}),
    ("sum_all", "sum", "torch.sum(x)", {"dim": None, "keepdim": False}, None, {"x": [3, 4, 5]}),
    ("mean_dim1", "mean", "torch.mean(x, dim=1, keepdim=False)", {"dim": 1, "keepdim": False}, None, {"x": [3, 4, 5]}),
    ("mean_dim1_keepdim", "mean", "torch.mean(x, dim=1, keepdim=True)", {"dim": 1, "keepdim": True}, None, {"x": [3, 4, 5]}),
    ("mean_dim-1", "mean", "torch.mean(x, dim=-1, keepdim=False)", {"dim": -1, "keepdim": False}, None, {"x": [3, 4, 5]}),
    ("mean_dims02", "mean", "torch.mean(x, dim=(0, 2), keepdim=False)", {"dim": [0, 2], "keepdim": False}, None, {"x": [3, 4, 5]}),
    ("mean_all", "mean", "torch.mean(x)", {"dim": None, "keepdim": False}, None, {"x": [3, 4, 5]}),
    ("max_dim1", "max", "torch.max(x, dim=1, keepdim=False)", {"dim": 1, "keepdim": False}, None, {"x": [3, 4, 5]}),
    ("max_dim1_keepdim", "max", "torch.max(x, dim=1, keepdim=True)", {"dim": 1, "keepdim": True}, None, {"x": [3, 4, 5]}),
    ("max_all", "max", "torch.max(x)", {"dim": None, "keepdim": False}, None, {"x": [3, 4, 5]}),
    ("softmax_4x7", "softmax", "torch.softmax(x, dim=-1)", {"dim": -1}, None, {"x": [4, 7]}),
    ("softmax_2x3x5", "softmax", "torch.softmax(x, dim=-1)", {"dim": -1}, None, {"x": [2, 3, 5]}),
    ("softmax_large_3x6", "softmax", "torch.softmax(x, dim=-1)", {"dim": -1}, None, {"x": [3, 6]}),
    ("log_softmax_4x7", "log_softmax", "torch.log_softmax(x, dim=-1)", {"dim": -1}, None, {"x": [4, 7]}),
    ("log_softmax_2x3x5", "log_softmax", "torch.log_softmax(x, dim=-1)", {"dim": -1}, None, {"x": [2, 3, 5]}),
    ("log_softmax_large_3x6", "log_softmax", "torch.log_softmax(x, dim=-1)", {"dim": -1}, None, {"x": [3, 6]}),
    ("logsumexp_4x7_dim-1", "logsumexp", "torch.logsumexp(x, dim=-1, keepdim=False)", {"dim": -1, "keepdim": False}, None, {"x": [4, 7]}),
    ("logsumexp_4x7_dim-1_keepdim", "logsumexp", "torch.logsumexp(x, dim=-1, keepdim=True)", {"dim": -1, "keepdim": True}, None, {"x": [4, 7]}),
    ("logsumexp_3x4x5_dim0", "logsumexp", "torch.logsumexp(x, dim=0, keepdim=False)", {"dim": 0, "keepdim": False}, None, {"x": [3, 4, 5]}),
    ("logsumexp_large_3x6", "logsumexp", "torch.logsumexp(x, dim=-1, keepdim=False)", {"dim": -1, "keepdim": False}, None, {"x": [3, 6]}),
]

LARGE_OFFSETS = [800.0, -900.0, 1000.0]


def reduction(spec):
    name, op, _, attrs, _, _ = spec
    dim, keepdim = attrs.get("dim"), attrs.get("keepdim", False)
    if isinstance(dim, list):
        dim = tuple(dim)
    if op in ("sum", "mean"):
        fn = torch.sum if op == "sum" else torch.mean
        outputs_of = out(lambda x: fn(x) if dim is None else fn(x, dim=dim, keepdim=keepdim))
        return vjp_case(spec, outputs_of, each(normal()), False)
    if op == "max":
        outputs_of = out(lambda x: torch.max(x)) if dim is None else max_values_indices(dim, keepdim)
        return vjp_case(spec, outputs_of, each(distinct(-3.0, 3.0)), False)
    draw = offset_rows(LARGE_OFFSETS, 3.0) if "_large_" in name else normal(2.0)
    if name == "logsumexp_3x4x5_dim0":
        draw = normal()
    if op == "logsumexp":
        return vjp_case(spec, out(lambda x: torch.logsumexp(x, dim=dim, keepdim=keepdim)), each(draw), False)
    fn = torch.softmax if op == "softmax" else torch.log_softmax
    return vjp_case(spec, out(lambda x: fn(x, dim=dim)), each(draw), False)


LINALG_SHAPES = [
    ("matmul_2d_3x4_4x5", "matmul", "torch.matmul(a, b)", {}, None, {"a": [3, 4], "b": [4, 5]}),
    ("matmul_batched_2x3x4_4x5", "matmul", "torch.matmul(a, b)", {}, None, {"a": [2, 3, 4], "b": [4, 5]}),
    ("matmul_batched_2x3x4_2x4x5", "matmul", "torch.matmul(a, b)", {}, None, {"a": [2, 3, 4], "b": [2, 4, 5]}),
    ("matmul_bcast_2x1x3x4_3x4x5", "matmul", "torch.matmul(a, b)", {}, None, {"a": [2, 1, 3, 4], "b": [3, 4, 5]}),
    ("matmul_matvec_3x4_4", "matmul", "torch.matmul(a, b)", {}, None, {"a": [3, 4], "b": [4]}),
    ("linear_4x5_w3x5_b3", "linear", "torch.nn.functional.linear(x, weight, bias)  # x @ weight.T + bias", {}, None, {"x": [4, 5], "weight": [3, 5], "bias": [3]}),
    ("transpose_2d_3x5", "transpose", "x.transpose(0, 1)", {"dim0": 0, "dim1": 1}, None, {"x": [3, 5]}),
    ("transpose_3d_swap02", "transpose", "x.transpose(0, 2)", {"dim0": 0, "dim1": 2}, None, {"x": [2, 3, 4]}),
    ("permute_3d_201", "permute", "x.permute(2, 0, 1)", {"dims": [2, 0, 1]}, None, {"x": [2, 3, 4]}),
    ("permute_4d_nchw_to_nhwc", "permute", "x.permute(0, 2, 3, 1)", {"dims": [0, 2, 3, 1]}, None, {"x": [2, 3, 4, 5]}),
    ("reshape_2x3x4_to_4x6", "reshape", "x.reshape(4, 6)", {"shape": [4, 6]}, None, {"x": [2, 3, 4]}),
    ("reshape_2x3x4_to_-1x4", "reshape", "x.reshape(-1, 4)", {"shape": [-1, 4], "resolved_shape": [6, 4]}, None, {"x": [2, 3, 4]}),
    ("permute_then_reshape", "permute+reshape", "x.permute(2, 0, 1).reshape(4, 6)", {"dims": [2, 0, 1], "shape": [4, 6]}, None, {"x": [2, 3, 4]}),
    ("flatten_start1", "flatten", "torch.flatten(x, start_dim=1)", {"start_dim": 1, "end_dim": -1}, None, {"x": [2, 3, 4, 5]}),
    ("flatten_all", "flatten", "torch.flatten(x)", {"start_dim": 0, "end_dim": -1}, None, {"x": [2, 3, 4]}),
    ("cat_dim1", "cat", "torch.cat([x0, x1, x2], dim=1)", {"dim": 1}, None, {"x0": [2, 3], "x1": [2, 1], "x2": [2, 4]}),
    ("cat_dim0", "cat", "torch.cat([x0, x1], dim=0)", {"dim": 0}, None, {"x0": [1, 3, 2], "x1": [2, 3, 2]}),
    ("cat_dim-1", "cat", "torch.cat([x0, x1], dim=-1)", {"dim": -1}, None, {"x0": [2, 2, 3], "x1": [2, 2, 2]}),
    ("stack_dim1", "stack", "torch.stack([x0, x1, x2], dim=1)", {"dim": 1}, None, {"x0": [2, 3], "x1": [2, 3], "x2": [2, 3]}),
    ("slice_4x6_1:3_::2", "slice", "x[1:3, ::2]", {"python": "x[1:3, ::2]", "slices": [[1, 3, 1], [None, None, 2]], "resolved": [[1, 3, 1], [0, 6, 2]]}, None, {"x": [4, 6]}),
    ("slice_3d", "slice", "x[:, 1:, 0:5:2]", {"python": "x[:, 1:, 0:5:2]", "slices": [[None, None, 1], [1, None, 1], [0, 5, 2]], "resolved": [[0, 2, 1], [1, 4, 1], [0, 5, 2]]}, None, {"x": [2, 4, 6]}),
    ("slice_negative", "slice", "x[-3:, 1::3]", {"python": "x[-3:, 1::3]", "slices": [[-3, None, 1], [1, None, 3]], "resolved": [[2, 5, 1], [1, 7, 3]]}, None, {"x": [5, 7]}),
    ("expand_3x1_to_2x3x4", "expand", "x.expand(2, 3, 4)", {"size": [2, 3, 4]}, None, {"x": [3, 1]}),
    ("expand_1x4_to_3x-1", "expand", "x.expand(3, -1)", {"size": [3, -1], "resolved_size": [3, 4]}, None, {"x": [1, 4]}),
    ("broadcast_to_4_to_3x4", "broadcast_to", "torch.broadcast_to(x, (3, 4))", {"shape": [3, 4]}, None, {"x": [4]}),
]


def linalg_shape(spec):
    _, op, _, attrs, _, _ = spec
    numbered = lambda kw: [kw[k] for k in sorted(kw, key=lambda k: int(k[1:]))]  # noqa: E731
    fn = {
        "matmul": lambda a, b: torch.matmul(a, b),
        "linear": lambda x, weight, bias: F.linear(x, weight, bias),
        "transpose": lambda x: x.transpose(attrs.get("dim0", 0), attrs.get("dim1", 1)),
        "permute": lambda x: x.permute(*attrs.get("dims", [])),
        "reshape": lambda x: x.reshape(*attrs.get("shape", [])),
        "permute+reshape": lambda x: x.permute(*attrs["dims"]).reshape(*attrs["shape"]),
        "flatten": lambda x: torch.flatten(x, start_dim=attrs.get("start_dim", 0)),
        "cat": lambda **kw: torch.cat(numbered(kw), dim=attrs["dim"]),
        "stack": lambda **kw: torch.stack(numbered(kw), dim=attrs["dim"]),
        "slice": lambda x: x[tuple(slice(*s) for s in attrs["slices"])],
        "expand": lambda x: x.expand(*attrs.get("size", [])),
        "broadcast_to": lambda x: torch.broadcast_to(x, tuple(attrs.get("shape", []))),
    }[op]
    return vjp_case(spec, out(fn), each(normal()), False)


CONV_LAYOUT = "input NCHW, weight OIHW (I = C_in/groups)"


def conv_spec(name, stride, padding, dilation, groups, shapes):
    pair = lambda v: list(v) if isinstance(v, tuple) else [v, v]  # noqa: E731
    expr = (
        f"torch.nn.functional.conv2d(input, weight, bias, stride={stride}, padding={padding}, "
        f"dilation={dilation}, groups={groups})"
    )
    attrs = {
        "stride": pair(stride),
        "padding": pair(padding),
        "dilation": pair(dilation),
        "groups": groups,
        "padding_mode": "zeros",
        "layout": CONV_LAYOUT,
    }
    return (name, "conv2d", expr, attrs, None, shapes)


CONV2D = [
    conv_spec("conv2d_s1_p0", 1, 0, 1, 1, {"input": [2, 3, 7, 7], "weight": [4, 3, 3, 3], "bias": [4]}),
    conv_spec("conv2d_s2_p1", 2, 1, 1, 1, {"input": [2, 3, 9, 8], "weight": [4, 3, 3, 3], "bias": [4]}),
    conv_spec("conv2d_dil2", 1, 0, 2, 1, {"input": [2, 3, 9, 9], "weight": [4, 3, 3, 3], "bias": [4]}),
    conv_spec("conv2d_groups2", 1, 0, 1, 2, {"input": [2, 4, 6, 6], "weight": [6, 2, 3, 3], "bias": [6]}),
    conv_spec("conv2d_lenet_conv1", 1, 0, 1, 1, {"input": [2, 1, 32, 32], "weight": [6, 1, 5, 5], "bias": [6]}),
    conv_spec("conv2d_lenet_conv2", 1, 0, 1, 1, {"input": [2, 6, 14, 14], "weight": [16, 6, 5, 5], "bias": [16]}),
    conv_spec("conv2d_rect_mixed", (1, 2), (1, 0), (2, 1), 1, {"input": [2, 3, 7, 9], "weight": [5, 3, 2, 3], "bias": [5]}),
]


def conv2d(spec):
    _, _, _, attrs, _, shapes = spec
    fan_in = math.prod(shapes["weight"][1:])

    def outputs_of(input, weight, bias):
        return {
            "out": F.conv2d(
                input, weight, bias, stride=attrs["stride"], padding=attrs["padding"], dilation=attrs["dilation"], groups=attrs["groups"]
            )
        }

    # Weights scaled by 1/sqrt(fan_in) as a layer's init would, so outputs stay of order 1.
    draw = per_input(input=normal(), weight=normal(1 / math.sqrt(fan_in)), bias=normal(0.1))
    return vjp_case(spec, outputs_of, draw, False)


MAX_POOL_ATTRS = {"dilation": [1, 1], "ceil_mode": False, "indices_meaning": "flat index h*W+w into the (unpadded) HxW plane of the same (n,c)"}
DISTINCT_NOTE = "all input values pairwise distinct: argmax unique"


def pool_spec(name, op, k, s, p, shape, count_include_pad=True):
    if op == "max_pool2d":
        expr = f"torch.nn.functional.max_pool2d(x, kernel_size={k}, stride={s}, padding={p}, return_indices=True)"
        attrs = {"kernel_size": [k, k], "stride": [s, s], "padding": [p, p], **MAX_POOL_ATTRS}
        return (name, op, expr, attrs, DISTINCT_NOTE, {"x": shape})
    expr = f"torch.nn.functional.avg_pool2d(x, kernel_size={k}, stride={s}, padding={p}, count_include_pad={count_include_pad})"
    attrs = {"kernel_size": [k, k], "stride": [s, s], "padding": [p, p], "ceil_mode": False}
    attrs.update({"count_include_pad": count_include_pad, "divisor_override": None})
    return (name, op, expr, attrs, None, {"x": shape})


POOL = [
    pool_spec("max_pool2d_k2_s2_8x8", "max_pool2d", 2, 2, 0, [2, 3, 8, 8]),
    pool_spec("max_pool2d_k2_s2_7x7_floor", "max_pool2d", 2, 2, 0, [2, 3, 7, 7]),
    pool_spec("max_pool2d_k3_s2_p1_7x7", "max_pool2d", 3, 2, 1, [2, 3, 7, 7]),
    pool_spec("max_pool2d_k3_s2_p1_allneg_6x6", "max_pool2d", 3, 2, 1, [1, 2, 6, 6]),
    pool_spec("avg_pool2d_k2_s2_8x8", "avg_pool2d", 2, 2, 0, [2, 3, 8, 8]),
    pool_spec("avg_pool2d_k2_s2_7x7_floor", "avg_pool2d", 2, 2, 0, [2, 3, 7, 7]),
    pool_spec("avg_pool2d_k3_s2_p1_count_include_pad", "avg_pool2d", 3, 2, 1, [2, 2, 7, 7]),
    pool_spec("avg_pool2d_k3_s2_p1_exclude_pad", "avg_pool2d", 3, 2, 1, [2, 2, 7, 7], count_include_pad=False),
]


def pool(spec):
    name, op, _, attrs, _, _ = spec
    k, s, p = attrs["kernel_size"], attrs["stride"], attrs["padding"]
    if op == "max_pool2d":

        def outputs_of(x):
            values, indices = F.max_pool2d(x, kernel_size=k, stride=s, padding=p, return_indices=True)
            return {"out": values, "indices": indices}

        # Mostly or all negative values where windows overlap the padding: the padding (-inf) never wins.
        draw = distinct(-5.0, -1.0) if "allneg" in name else distinct(-4.0, 1.0) if "_p1_" in name else distinct(-3.0, 3.0)
        return vjp_case(spec, outputs_of, each(draw), False)
    include = attrs["count_include_pad"]
    outputs_of = out(lambda x: F.avg_pool2d(x, kernel_size=k, stride=s, padding=p, count_include_pad=include))
    return vjp_case(spec, outputs_of, each(normal()), False)


CE_ATTRS = {"reduction": "mean", "target": "class indices (int64)", "weight": None, "ignore_index": -100, "label_smoothing": 0.0}
BCE_ATTRS = {"reduction": "mean", "weight": None, "pos_weight": None}
CE_EXPR = "torch.nn.functional.cross_entropy(input, target, reduction='mean')"
BCE_EXPR = "torch.nn.functional.binary_cross_entropy_with_logits(input, target, reduction='mean')"
BCE = "binary_cross_entropy_with_logits"
NLL_LS_EXPR = "torch.nn.functional.nll_loss(torch.log_softmax(input, dim=1), target, reduction='mean')"
NLL_LS_ATTRS = {"reduction": "mean", "log_softmax_dim": 1, "weight": None, "ignore_index": -100}
EXTREME_LOGITS = [-800.0, -40.0, -3.2, -0.5, 0.5, 3.2, 40.0, 800.0]


def extreme_logits(shape):
    """Fixed logits up to |x| = 800 (a naive log(1 + exp(x)) overflows), plus jitter in [-0.1, 0.1)."""
    return torch.tensor(EXTREME_LOGITS, dtype=F64) + (torch.rand(shape, dtype=F64) * 0.2 - 0.1)


LOSSES = [
    ("mse_loss_mean", "mse_loss", "torch.nn.functional.mse_loss(input, target, reduction='mean')", {"reduction": "mean"}, None, {"input": [4, 10], "target": [4, 10]}),
    ("cross_entropy_mean", "cross_entropy", CE_EXPR, CE_ATTRS, None, {"input": [5, 7], "target": [5]}),
    ("cross_entropy_large_logits", "cross_entropy", CE_EXPR, CE_ATTRS, None, {"input": [3, 5], "target": [3]}),
    ("bce_with_logits_soft_targets", BCE, BCE_EXPR, BCE_ATTRS, None, {"input": [4, 6], "target": [4, 6]}),
    ("bce_with_logits_hard_targets", BCE, BCE_EXPR, BCE_ATTRS, None, {"input": [4, 6], "target": [4, 6]}),
    ("bce_with_logits_extreme", BCE, BCE_EXPR, BCE_ATTRS, None, {"input": [8], "target": [8]}),
    ("nll_loss_of_log_softmax", "nll_loss(log_softmax)", NLL_LS_EXPR, NLL_LS_ATTRS, None, {"input": [5, 7], "target": [5]}),
    ("nll_loss_direct", "nll_loss", "torch.nn.functional.nll_loss(input, target, reduction='mean')", {"reduction": "mean", "weight": None, "ignore_index": -100}, None, {"input": [5, 7], "target": [5]}),
]


def loss(spec):
    name, op, _, _, _, shapes = spec
    classes = shapes["input"][-1]
    if op == "mse_loss":
        return vjp_case(spec, out(lambda input, target: F.mse_loss(input, target)), each(normal()), True)
    if op == "cross_entropy":
        logits = offset_rows(LARGE_OFFSETS, 2.0) if "large" in name else normal(1.5)
        draw = per_input(input=logits, target=class_indices(classes))
        return vjp_case(spec, out(lambda input, target: F.cross_entropy(input, target)), draw, True)
    if op == BCE:
        fn = out(lambda input, target: F.binary_cross_entropy_with_logits(input, target))
        if name.endswith("extreme"):
            return vjp_case(spec, fn, per_input(input=extreme_logits, target=uniform(0.0, 1.0)), True)
        if name.endswith("hard_targets"):
            # 0/1 labels are data, not something to differentiate: no grad for target
            return vjp_case(spec, fn, per_input(input=normal(2.0), target=hard_targets), True, no_grad=("target",))
        return vjp_case(spec, fn, per_input(input=normal(2.0), target=uniform(0.0, 1.0)), True)
    if op == "nll_loss(log_softmax)":

        def outputs_of(input, target):
            return {"out": F.nll_loss(torch.log_softmax(input, dim=1), target)}

        draw = per_input(input=normal(1.5), target=class_indices(classes))
        intermediates = lambda input, target: {"log_softmax": torch.log_softmax(input, dim=1)}  # noqa: E731
        return vjp_case(spec, outputs_of, draw, True, intermediates_of=intermediates)
    draw = per_input(input=normal(), target=class_indices(classes))
    return vjp_case(spec, out(lambda input, target: F.nll_loss(input, target)), draw, True)


EDGE_SEMANTICS = [
    (
        ("edge_max_pool2d_ties", "max_pool2d", "torch.nn.functional.max_pool2d(x, 2, 2, return_indices=True)", {"kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0]}, "ties: the first maximum in row-major window order wins and gets the whole gradient", {"x": [1, 1, 4, 4]}),
        {"x": [1.0, 5.0, 2.0, 2.0, 5.0, 2.0, 2.0, 2.0, 0.0, 3.0, 7.0, 1.0, 3.0, 3.0, 1.0, 7.0]},
        lambda x: dict(zip(["out", "indices"], F.max_pool2d(x, 2, 2, return_indices=True))),
    ),
    (
        ("edge_max_pool2d_overlap", "max_pool2d", "torch.nn.functional.max_pool2d(x, 3, 1)", {"kernel_size": [3, 3], "stride": [1, 1], "padding": [0, 0]}, "overlapping windows sharing one maximum: gradients accumulate", {"x": [1, 1, 4, 4]}),
        {"x": [0.0, 0.0, 0.0, 0.0, 0.0, 9.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]},
        lambda x: {"out": F.max_pool2d(x, 3, 1)},
    ),
    (
        ("edge_max_dim_ties", "max", "torch.max(x, dim=0)", {"dim": 0, "keepdim": False}, "CPU returns the first maximal index and routes the whole gradient there (PyTorch documents the index choice as not guaranteed)", {"x": [4]}),
        {"x": [1.0, 3.0, 3.0, 2.0]},
        max_values_indices(0, False),
    ),
    (
        ("edge_max_all_ties", "max", "torch.max(x)", {"dim": None}, "full reduction max(): gradient split evenly among ties", {"x": [4]}),
        {"x": [1.0, 3.0, 3.0, 2.0]},
        lambda x: {"out": torch.max(x)},
    ),
    (
        ("edge_amax_ties", "amax", "torch.amax(x, dim=0)", {"dim": 0}, "amax: gradient split evenly among ties", {"x": [4]}),
        {"x": [1.0, 3.0, 3.0, 2.0]},
        lambda x: {"out": torch.amax(x, dim=0)},
    ),
    (
        ("edge_maximum_ties", "maximum", "torch.maximum(a, b)", {}, "a == b: each gets grad/2", {"a": [3], "b": [3]}),
        {"a": [1.0, 2.0, 3.0], "b": [1.0, 1.0, 4.0]},
        lambda a, b: {"out": torch.maximum(a, b)},
    ),
    (
        ("edge_relu_at_zero", "relu", "torch.relu(x)", {}, "relu'(0) = 0", {"x": [3]}),
        {"x": [-1.0, 0.0, 1.0]},
        lambda x: {"out": torch.relu(x)},
    ),
    (
        ("edge_abs_at_zero", "abs", "torch.abs(x)", {}, "abs'(0) = sign(0) = 0", {"x": [3]}),
        {"x": [-2.0, 0.0, 2.0]},
        lambda x: {"out": torch.abs(x)},
    ),
]


def edge(entry):
    spec, values, outputs_of = entry
    draw = lambda shapes: {k: fixed(values[k])(s) for k, s in shapes.items()}  # noqa: E731
    return vjp_case(spec, outputs_of, draw, True)


# ---------------------------------------------------------------------------------------------------
# second order


def hessian_case(name, function, f, n):
    seed = seed_of(name)
    torch.manual_seed(seed)
    x, v = torch.randn(n, dtype=F64), torch.randn(n, dtype=F64)
    xg = x.clone().requires_grad_(True)
    value = f(xg)
    (g,) = torch.autograd.grad(value, xg, create_graph=True)
    rows = [torch.autograd.grad(g[i], xg, retain_graph=True)[0] for i in range(n)]
    hessian = torch.stack(rows)
    return {
        "name": name,
        "kind": "hessian",
        "function": function,
        "seed": seed,
        "inputs": {"x": arr(x), "v": arr(v)},
        "outputs": {"f": arr(value), "grad": arr(g), "hessian": arr(hessian), "hvp": arr(torch.autograd.functional.hvp(f, x, v)[1])},
        "note": "hessian[i][j] = d2f/dx_i dx_j; hvp = hessian @ v; computed by double backward",
    }


def jacobian_case(name, function, f, n):
    seed = seed_of(name)
    torch.manual_seed(seed)
    x = torch.randn(n, dtype=F64)
    return {
        "name": name,
        "kind": "jacobian",
        "function": function,
        "seed": seed,
        "inputs": {"x": arr(x)},
        "outputs": {"y": arr(f(x)), "jacobian": arr(torch.autograd.functional.jacobian(f, x))},
        "note": "jacobian[i][j] = dy_i/dx_j (shape [len(y), len(x)])",
    }


def second_order():
    return [
        hessian_case("hessian_sum_tanh_cubed", "f(x) = sum(tanh(x)**3)", lambda x: torch.sum(torch.tanh(x) ** 3), 5),
        hessian_case("hessian_logsumexp", "f(x) = logsumexp(x)", lambda x: torch.logsumexp(x, dim=0), 4),
        jacobian_case("jacobian_softmax4", "y = softmax(x), x of length 4", lambda x: torch.softmax(x, dim=0), 4),
        jacobian_case(
            "jacobian_nonsquare",
            "y = [x0*x1, tanh(x2) + x3**2, exp(x0)*x3], x of length 4",
            lambda x: torch.stack([x[0] * x[1], torch.tanh(x[2]) + x[3] ** 2, torch.exp(x[0]) * x[3]]),
            4,
        ),
    ]


# ---------------------------------------------------------------------------------------------------
# models


class LeNet(nn.Module):
    """The network of PyTorch's "Neural Networks" tutorial."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x, record=None):
        record = {} if record is None else record
        record["conv1_out"] = h = self.conv1(x)
        record["pool1_out"] = h = F.max_pool2d(F.relu(h), (2, 2))
        record["conv2_out"] = h = self.conv2(h)
        record["pool2_out"] = h = F.max_pool2d(F.relu(h), 2)
        h = torch.flatten(h, 1)
        record["fc1_out"] = h = self.fc1(h)
        record["fc2_out"] = h = self.fc2(F.relu(h))
        return self.fc3(F.relu(h))


LENET_ARCHITECTURE = [
    "conv1 = Conv2d(1, 6, kernel_size=5)      # stride 1, padding 0, bias",
    "conv2 = Conv2d(6, 16, kernel_size=5)",
    "fc1 = Linear(400, 120)                    # y = x @ W.T + b, W shape (out, in)",
    "fc2 = Linear(120, 84)",
    "fc3 = Linear(84, 10)",
    "forward: x -> conv1 -> relu -> max_pool2d(2x2, stride 2) -> conv2 -> relu -> max_pool2d(2) -> flatten(start_dim=1) (C,H,W row-major: 16*5*5=400) -> fc1 -> relu -> fc2 -> relu -> fc3",
    "loss = mse_loss(output, target, reduction='mean')  (mean over all 4*10 elements)",
]


def float64_module(make):
    """A module whose default init runs in float64 (so the stored parameters are float64 draws)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(F64)
    try:
        return make()
    finally:
        torch.set_default_dtype(previous)


def lenet_setup():
    """The tutorial's LeNet, its batch of 4 and its target, all from the case's seed."""
    seed = seed_of("lenet_tutorial")
    torch.manual_seed(seed)
    net = float64_module(LeNet)
    torch.manual_seed(seed)
    return seed, net, torch.randn(4, 1, 32, 32, dtype=F64), torch.randn(4, 10, dtype=F64)


def pool_gaps(relu_out):
    """Smallest top-1/top-2 gap over 2x2 windows whose maximum is positive, and the all-zero windows."""
    windows = F.unfold(relu_out.reshape(-1, 1, *relu_out.shape[2:]), 2, stride=2).transpose(1, 2).reshape(-1, 4)
    top2 = windows.topk(2, dim=1).values
    positive = top2[:, 0] > 0
    return {
        "min_gap_in_windows_with_positive_max": (top2[positive, 0] - top2[positive, 1]).min().item(),
        "windows_all_zero": int((~positive).sum()),
        "windows_total": windows.shape[0],
    }


def lenet():
    seed, net, x, target = lenet_setup()
    order = [k for k, _ in net.named_parameters()]
    x.requires_grad_(True)
    record = {}
    output = net(x, record)
    value = F.mse_loss(output, target)
    grads = torch.autograd.grad(value, [p for _, p in net.named_parameters()] + [x])
    relu_inputs = ["conv1_out", "conv2_out", "fc1_out", "fc2_out"]
    diagnostics = {
        "min_abs_preactivation": {k: record[k].abs().min().item() for k in relu_inputs},
        "min_maxpool_top2_gap": {
            "pool1": pool_gaps(F.relu(record["conv1_out"])),
            "pool2": pool_gaps(F.relu(record["conv2_out"])),
        },
        "explanation": (
            "how close the float64 forward pass is to a relu kink / max-pool tie; a reimplementation in lower "
            "precision whose error exceeds these margins may route gradients differently. Pool windows whose "
            "relu outputs are all 0 are exact ties, but every candidate has relu'=0 so the gradient is 0 "
            "whichever index is chosen."
        ),
    }
    return {
        "name": "lenet_tutorial",
        "kind": "model",
        "model": "lenet",
        "architecture": LENET_ARCHITECTURE,
        "seed": seed,
        "param_order": order,
        "params": {k: arr(p) for k, p in net.named_parameters()},
        "inputs": {"input": arr(x), "target": arr(target)},
        "outputs": {"output": arr(output), "loss": arr(value)},
        "intermediates": {k: arr(t) for k, t in record.items()},
        "cotangent": {"loss": arr(torch.ones((), dtype=F64))},
        "grads": {**{k: arr(g) for k, g in zip(order, grads[:-1])}, "input": arr(grads[-1])},
        "diagnostics": diagnostics,
    }


FIZZBUZZ_ARCHITECTURE = [
    "nn.Sequential(Linear(10, 100), Sigmoid(), Linear(100, 4))  # param names 0.weight, 0.bias, 2.weight, 2.bias",
    "input: 10-bit binary encoding of an integer n, least significant bit first: x[i, d] = (n >> d) & 1",
    "target: one-hot, class 0 = number, 1 = fizz (n%3==0), 2 = buzz (n%5==0), 3 = fizzbuzz (n%15==0)",
    "loss = mse_loss(output, target, reduction='mean') (mean over all 8*4 elements)",
]


def fizzbuzz_class(n):
    return 3 if n % 15 == 0 else 1 if n % 3 == 0 else 2 if n % 5 == 0 else 0


def fizzbuzz_mlp():
    seed = seed_of("fizzbuzz_mlp")
    torch.manual_seed(seed)
    net = float64_module(lambda: nn.Sequential(nn.Linear(10, 100), nn.Sigmoid(), nn.Linear(100, 4)))
    torch.manual_seed(seed)
    # Two numbers of each class from 101..1023 (outside the training range 1..100), class by class, then
    # shuffled.
    candidates = []
    for wanted in range(4):
        found = 0
        while found < 2:
            n = int(torch.randint(101, 1024, (1,)))
            if fizzbuzz_class(n) == wanted:
                candidates.append(n)
                found += 1
    numbers = [candidates[i] for i in torch.randperm(8).tolist()]
    x = torch.tensor([[(n >> d) & 1 for d in range(10)] for n in numbers], dtype=F64)
    target = F.one_hot(torch.tensor([fizzbuzz_class(n) for n in numbers]), 4).to(F64)
    output = net(x)
    value = F.mse_loss(output, target)
    order = [k for k, _ in net.named_parameters()]
    grads = torch.autograd.grad(value, [p for _, p in net.named_parameters()])
    return {
        "name": "fizzbuzz_mlp",
        "kind": "model",
        "model": "fizzbuzz_mlp",
        "architecture": FIZZBUZZ_ARCHITECTURE,
        "seed": seed,
        "numbers": numbers,
        "param_order": order,
        "params": {k: arr(p) for k, p in net.named_parameters()},
        "inputs": {"input": arr(x), "target": arr(target)},
        "outputs": {"output": arr(output), "loss": arr(value)},
        "cotangent": {"loss": arr(torch.ones((), dtype=F64))},
        "grads": {k: arr(g) for k, g in zip(order, grads)},
    }


# ---------------------------------------------------------------------------------------------------
# optimizers: LeNet from lenet.json's parameters, 5 steps on its batch

STEPS = 5
OPTIMIZERS = [
    ("optim_sgd", "LeNet, 5 steps SGD lr=0.01", lambda p: torch.optim.SGD(p, lr=0.01),
     "g = grad (+ weight_decay*p); p = p - lr*g"),
    ("optim_sgd_momentum", "LeNet, 5 steps SGD lr=0.01 momentum=0.9", lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
     "g = grad; buf = g at step 1, else buf = momentum*buf + (1-dampening)*g; p = p - lr*buf"),
    ("optim_sgd_nesterov", "LeNet, 5 steps SGD lr=0.01 momentum=0.9 nesterov",
     lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
     "g = grad; buf = g at step 1, else buf = momentum*buf + (1-dampening)*g; p = p - lr*(g + momentum*buf)"),
    ("optim_sgd_weight_decay", "LeNet, 5 steps SGD lr=0.01 weight_decay=1e-4",
     lambda p: torch.optim.SGD(p, lr=0.01, weight_decay=1e-4), "g = grad + weight_decay*p; p = p - lr*g"),
    ("optim_adam", "LeNet, 5 steps Adam lr=1e-3", lambda p: torch.optim.Adam(p, lr=1e-3),
     "t += 1; g = grad (+ weight_decay*p, L2 style, 0 here); m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; "
     "p = p - (lr/(1-b1^t)) * m / (sqrt(v)/sqrt(1-b2^t) + eps)   [m, v start at 0]"),
    ("optim_adamw", "LeNet, 5 steps AdamW lr=1e-3 weight_decay=1e-2", lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=1e-2),
     "t += 1; p = p*(1 - lr*weight_decay)  (decoupled, applied first); m = b1*m + (1-b1)*grad; "
     "v = b2*v + (1-b2)*grad*grad; p = p - (lr/(1-b1^t)) * m / (sqrt(v)/sqrt(1-b2^t) + eps)"),
    ("optim_rmsprop", "LeNet, 5 steps RMSprop lr=1e-3", lambda p: torch.optim.RMSprop(p, lr=1e-3),
     "v = alpha*v + (1-alpha)*g*g  [v starts at 0, no bias correction]; p = p - lr * g / (sqrt(v) + eps)"),
]

# The optimizers added later. Their cases also record the sum of every state tensor after the last step
# (`final_state_sums`), and they step with float64 as torch's default dtype: NAdam's mu_product and ASGD's
# eta and mu are made with torch.tensor(python float), which is float32 otherwise.
MORE_OPTIMIZERS = [
    ("optim_adadelta", "LeNet, 5 steps Adadelta lr=1.0", 5, lambda p: torch.optim.Adadelta(p, lr=1.0),
     "v = rho*v + (1-rho)*g*g; delta = sqrt(u + eps) / sqrt(v + eps) * g; u = rho*u + (1-rho)*delta*delta; "
     "p = p - lr*delta   [v = square_avg, u = acc_delta, both start at 0]"),
    ("optim_adamax", "LeNet, 5 steps Adamax lr=2e-3", 5, lambda p: torch.optim.Adamax(p, lr=2e-3),
     "t += 1; m = b1*m + (1-b1)*g; u = max(b2*u, |g| + eps); p = p - (lr/(1-b1^t)) * m / u   [u = exp_inf]"),
    ("optim_nadam", "LeNet, 5 steps NAdam lr=2e-3", 5, lambda p: torch.optim.NAdam(p, lr=2e-3),
     "t += 1; mu_t = b1*(1 - 0.5*0.96^(t*momentum_decay)); mu_product *= mu_t; m = b1*m + (1-b1)*g; "
     "v = b2*v + (1-b2)*g*g; denom = sqrt(v/(1-b2^t)) + eps; p = p - lr*(1-mu_t)/(1-mu_product) * g/denom; "
     "p = p - lr*mu_{t+1}/(1-mu_product*mu_t*mu_{t+1}) * m/denom   [torch 1.13 multiplies by mu_t twice there]"),
    ("optim_radam", "LeNet, 8 steps RAdam lr=1e-3 (rectified from step 6)", 8, lambda p: torch.optim.RAdam(p, lr=1e-3),
     "t += 1; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; rho_inf = 2/(1-b2) - 1; "
     "rho_t = rho_inf - 2*t*b2^t/(1-b2^t); if rho_t > 5: r = sqrt((rho_t-4)(rho_t-2)rho_inf/((rho_inf-4)(rho_inf-2)rho_t)); "
     "p = p - m/(1-b1^t) * lr * sqrt(1-b2^t)/(sqrt(v) + eps) * r; else p = p - m/(1-b1^t) * lr"),
    ("optim_asgd", "LeNet, 5 steps ASGD lr=0.01 lambd=0.1 t0=2", 5,
     lambda p: torch.optim.ASGD(p, lr=0.01, lambd=0.1, t0=2),
     "t += 1; p = p*(1 - lambd*eta); p = p - eta*g; ax = p if mu == 1 else ax + mu*(p - ax); "
     "eta = lr / (1 + lambd*lr*t)^alpha; mu = 1/max(1, t - t0)   [eta starts at lr, mu at 1]"),
    ("optim_rprop", "LeNet, 5 steps Rprop lr=1e-3", 5, lambda p: torch.optim.Rprop(p, lr=1e-3),
     "s = sign(g*prev); f = etaplus where s > 0, etaminus where s < 0, else 1; step_size = clamp(step_size*f, "
     "step_size_min, step_size_max); g = 0 where f == etaminus; p = p - sign(g)*step_size; prev = g   "
     "[step_size starts at lr, prev at 0]"),
]


def plain(value):
    return list(value) if isinstance(value, tuple) else value


def optimizer_case(name, make, update_rule, steps=STEPS, with_state=False):
    seed, net, x, target = lenet_setup()
    # The single-tensor code path, the one the update rules above describe.
    opt = make(net.parameters())
    for group in opt.param_groups:
        group["foreach"] = False
    order = [k for k, _ in net.named_parameters()]
    losses, sums = [], {k: [] for k in order}
    previous = torch.get_default_dtype()
    if with_state:
        torch.set_default_dtype(F64)
    try:
        for _ in range(steps):
            opt.zero_grad()
            value = F.mse_loss(net(x), target)
            losses.append(value.item())
            value.backward()
            opt.step()
            for k, p in net.named_parameters():
                sums[k].append(p.detach().sum().item())
    finally:
        torch.set_default_dtype(previous)
    with torch.no_grad():
        final = F.mse_loss(net(x), target)
    group = opt.param_groups[0]
    extra = {}
    if with_state:
        extra["final_state_sums"] = {
            k: {s: float(torch.as_tensor(v).sum()) for s, v in opt.state[p].items() if s != "step"}
            for k, p in net.named_parameters()
        }
        extra["final_state_note"] = "sum of all elements of each state tensor of each parameter after the last step (torch's state names)"
    return {
        "name": name,
        "kind": "optimizer",
        "optimizer": type(opt).__name__,
        "torch": " ".join(repr(opt).split()),
        "hyperparameters": {k: plain(v) for k, v in group.items() if k != "params"},
        "update_rule": update_rule,
        "model": "lenet",
        "initial_params": "params of case 'lenet_tutorial' in lenet.json",
        "batch": "inputs 'input' and 'target' of case 'lenet_tutorial' in lenet.json (same batch every step)",
        "loss_fn": "mse_loss(output, target, reduction='mean')",
        "steps": steps,
        "step_procedure": "for t in 1..steps: zero_grad(); loss = mse(net(input), target); losses[t-1] = loss; loss.backward(); opt.step()",
        "seed": seed,
        "param_order": order,
        "losses": arr(torch.tensor(losses, dtype=F64)),
        "final_loss": arr(final),
        "param_sums_after_step": {k: arr(torch.tensor(v, dtype=F64)) for k, v in sums.items()},
        "final_params": {k: arr(p) for k, p in net.named_parameters()},
        **extra,
    }


# ---------------------------------------------------------------------------------------------------
# files


import gen_linalg_lu  # noqa: E402 (it imports the helpers above)
import gen_linalg_cholesky  # noqa: E402 (it imports the helpers above)
import gen_linalg_svd  # noqa: E402 (it imports the helpers above)


def files():
    """(file name, description, function returning the cases), in the manifest's order."""
    yield "elementwise.json", "binary ops with broadcasting, unary ops, pow, maximum/minimum (random cotangent)", lambda: [elementwise(s) for s in ELEMENTWISE]
    yield "reductions.json", "sum/mean/max over dims (keepdim or not), softmax, log_softmax, logsumexp (random cotangent)", lambda: [reduction(s) for s in REDUCTIONS]
    yield "linalg_shapes.json", "matmul (2D, batched, broadcast, mat-vec), linear, transpose, permute, reshape, flatten, cat, stack, slicing, expand, broadcast_to (random cotangent)", lambda: [linalg_shape(s) for s in LINALG_SHAPES]
    yield "conv2d.json", "conv2d with bias: stride/padding/dilation/groups, LeNet layer shapes, a rectangular mixed case", lambda: [conv2d(s) for s in CONV2D]
    yield "pool.json", "max_pool2d (with indices) and avg_pool2d", lambda: [pool(s) for s in POOL]
    yield "losses.json", "mse, cross_entropy, bce_with_logits, nll_loss (cotangent 1)", lambda: [loss(s) for s in LOSSES]
    yield "lenet.json", "LeNet from the PyTorch tutorial: params, batch of 4, output, MSE loss, all grads", lambda: [lenet()]
    yield "fizzbuzz_mlp.json", "Linear(10,100)-Sigmoid-Linear(100,4) MLP, batch 8, MSE loss, grads", lambda: [fizzbuzz_mlp()]
    for name, description, make, rule in OPTIMIZERS:
        yield f"{name}.json", description, lambda name=name, make=make, rule=rule: [optimizer_case(name, make, rule)]
    for name, description, steps, make, rule in MORE_OPTIMIZERS:
        yield f"{name}.json", description, lambda name=name, make=make, rule=rule, steps=steps: [
            optimizer_case(name, make, rule, steps, with_state=True)
        ]
    yield "second_order.json", "gradient, Hessian and Hessian-vector product; Jacobians", second_order
    yield "edge_semantics.json", "fixed inputs showing PyTorch's tie and kink conventions (cotangent 1)", lambda: [edge(e) for e in EDGE_SEMANTICS]
    yield gen_seq_ops.FILE, gen_seq_ops.DESCRIPTION, lambda: gen_seq_ops.cases(sys.modules[__name__])
    yield gen_linalg_lu.FILE
    yield gen_linalg_cholesky.FILE
    yield "seq_optim.json", "AdamW with torch parameter groups (no decay on biases/norms), 5 steps of a small LM; top-k/top-p logits filters", gen_seq_optim.seq_optim_cases
    yield gen_linalg_svd.FILE
    yield gen_seq_rnn.FILE, gen_seq_rnn.DESCRIPTION, lambda: gen_seq_rnn.cases(sys.modules[__name__])
    yield gen_seq_attn.FILE, gen_seq_attn.DESCRIPTION, lambda: gen_seq_attn.cases(sys.modules[__name__])
    yield "linalg_qr_eigh.json", "torch.linalg.qr (reduced/complete/r; tall, square, wide) and eigh/eigvalsh (sign-normalised eigenvectors), batched and unbatched (random cotangent)", lambda: gen_linalg_qr_eigh.linalg_qr_eigh_cases(sys.modules[__name__])
    yield gen_linalg_degenerate.FILE, gen_linalg_degenerate.DESCRIPTION, lambda: gen_linalg_degenerate.cases(sys.modules[__name__])


def debian_torch_version():
    try:
        run = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-torch"], capture_output=True, text=True)
        return run.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def write_gzip(path, text):
    # mtime 0 and no file name in the header: the same data gives the same bytes
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf8"))


def main(out_dir, only=None):
    torch.set_num_threads(1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    versions = {"torch_version": torch.__version__, "debian_python3_torch": debian_torch_version()}
    manifest = {"format": "golden-v1", "base_seed": BASE_SEED, **versions, "files": {}}
    for file, description, make in files():
        if only is not None and not file.startswith(only):
            continue
        cases = make()
        meta = {
            "format": "golden-v1",
            "file": file,
            "description": description,
            **versions,
            "python_version": platform.python_version(),
            "base_seed": BASE_SEED,
            "dtype": "float64",
            "generator": "test/golden/generate.py",
            "num_cases": len(cases),
        }
        # One case per line, numbers as Python's repr (the shortest string that reads back exactly).
        lines = ",\n".join(json.dumps(c, separators=(",", ":")) for c in cases)
        write_gzip(out / f"{file}.gz", '{"meta":' + json.dumps(meta, indent=1) + ',\n"cases":[\n' + lines + "\n]}\n")
        manifest["files"][file] = {"description": description, "cases": [c["name"] for c in cases]}
        print(f"{file}: {len(cases)} cases", file=sys.stderr)
    if only is None:
        write_gzip(out / "manifest.json.gz", json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    # --only PREFIX writes just the files whose names start with it (e.g. --only optim_), no manifest.
    args = sys.argv[1:]
    only = None
    if len(args) == 3 and args[0] == "--only":
        only, args = args[1], args[2:]
    if len(args) != 1:
        sys.exit("usage: python3 test/golden/generate.py [--only FILE_PREFIX] OUT_DIR")
    main(args[0], only)
