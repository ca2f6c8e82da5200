"""Writes data/numpy-cases.json.gz: random cases of tracegrad's np functions and NumPy 1.24's answers.

    /usr/bin/python3 test/differential/generate.py [OUT_DIR]     (default: the data folder beside this file)

numpy-differential.test.ts replays every case, eagerly and under jit; generate.test.ts runs this script
where numpy 1.24 is installed and checks that it writes the committed file again, case for case.

Adding a function: write `make(rng) -> (args, kw)` and `reference(args, kw) -> list of arrays`, and add
`Entry("name", count, make, reference)` to ENTRIES. `name` is the function's name in tracegrad's `np`;
`args` are positional (numpy arrays become arrays in TypeScript, Python numbers and lists stay JS
values), `kw` is the options object with tracegrad's option names. The TypeScript side calls
`np[name](...args, kw)` unless test/differential/functions.ts says otherwise. Each function draws from
its own seed, so adding one leaves the other functions' cases as they are.
"""
import gzip
import json
import math
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np

warnings.simplefilter("ignore")

DTYPES = ["bool", "int32", "float32", "float64"]
FLOATS = ["float32", "float64"]
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class Entry:
    def __init__(self, name, count, make, reference):
        self.name, self.count, self.make, self.reference = name, count, make, reference


# ---------------------------------------------------------------------------------------------------
# encoding: JSON has no NaN, infinities or -0, so those are strings

def enc(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0 and math.copysign(1, v) < 0:
        return "-0"
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


def enc_array(a):
    a = np.asarray(a)
    dtype = a.dtype.name
    flat = a.ravel()
    if a.dtype == np.bool_:
        data = [int(v) for v in flat]
    elif np.issubdtype(a.dtype, np.integer):
        data = [int(v) for v in flat]
    else:
        data = [enc(v) for v in flat]
    return {"dtype": dtype, "shape": list(a.shape), "data": data}


def enc_arg(a):
    return enc_array(a) if isinstance(a, np.ndarray) else a


# ---------------------------------------------------------------------------------------------------
# random inputs: small shapes (size 0 and 1 included), ties, NaN, infinities and both zeros

DIMS = [0, 1, 1, 2, 2, 3, 3, 4, 5, 7]


def random_shape(rng, min_rank=0, max_rank=3, min_dim=0):
    rank = int(rng.integers(min_rank, max_rank + 1))
    dims = [d for d in DIMS if d >= min_dim]
    return tuple(int(rng.choice(dims)) for _ in range(rank))


def random_values(rng, shape, dtype, specials=True):
    """Values of `dtype`: many ties; for floats NaN, infinities and -0 in some cases."""
    n = int(np.prod(shape)) if shape else 1
    if dtype == "bool":
        return (rng.random(n) < 0.5).reshape(shape)
    if dtype == "int32":
        kind = rng.random(n)
        v = np.where(kind < 0.6, rng.integers(-4, 5, n), rng.integers(-1000, 1001, n))
        if specials:
            v = np.where(kind > 0.97, rng.choice([INT32_MIN, INT32_MAX], n), v)
        return v.astype(np.int32).reshape(shape)
    kind = rng.random(n)
    v = np.where(kind < 0.5, rng.integers(-6, 7, n) / 2, rng.normal(0, 1, n) * 10.0 ** rng.integers(-2, 4, n))
    if specials and rng.random() < 0.6:
        special = rng.choice([np.nan, np.inf, -np.inf, -0.0, 0.0], n)
        v = np.where(rng.random(n) < 0.15, special, v)
    return v.astype(dtype).reshape(shape)


def random_axis(rng, rank, allow_none=True):
    """An axis in [-rank, rank) or None (flattened)."""
    if rank == 0 or (allow_none and rng.random() < 0.15):
        return None
    return int(rng.integers(-rank, rank))


def pick(rng, options):
    return options[int(rng.integers(len(options)))]


# ---------------------------------------------------------------------------------------------------
# the order tracegrad's descending sort, topK and kthValue define (numpy has no such functions)

def descending_order(x, axis):
    """Stable descending order along `axis`: larger first, ties in index order, NaN first."""
    moved = np.moveaxis(x, axis, -1)
    rows = moved.reshape(-1, moved.shape[-1]) if moved.size else np.zeros((0, moved.shape[-1]), moved.dtype)
    out = np.zeros(rows.shape, dtype=np.int64)
    for r, row in enumerate(rows):
        if row.dtype.kind == "f":
            key = -row.astype(np.float64)
            out[r] = np.lexsort((key, ~np.isnan(row)))
        else:
            out[r] = np.lexsort((-row.astype(np.int64),))
    return np.moveaxis(out.reshape(moved.shape), -1, axis)


def flat_if_none(x, axis):
    return (x.ravel(), 0) if axis is None else (x, axis)


# ---------------------------------------------------------------------------------------------------
# sorting

def make_sort(rng):
    dtype = pick(rng, DTYPES)
    x = random_values(rng, random_shape(rng), dtype)
    kw = {"axis": random_axis(rng, x.ndim)}
    if rng.random() < 0.3:
        kw["descending"] = True
    return [x], kw


def sort_order(x, kw):
    y, axis = flat_if_none(x, kw["axis"])
    if kw.get("descending"):
        return y, axis, descending_order(y, axis)
    return y, axis, np.argsort(y, axis=axis, kind="stable")


def ref_sort(args, kw):
    y, axis, order = sort_order(args[0], kw)
    return [np.take_along_axis(y, order, axis=axis)]


def ref_argsort(args, kw):
    return [sort_order(args[0], kw)[2]]


def make_top_k(rng):
    dtype = pick(rng, DTYPES)
    x = random_values(rng, random_shape(rng, min_rank=1), dtype)
    k = int(rng.integers(0, x.shape[-1] + 1))
    return [x, k], {}


def ref_top_k(args, kw):
    x, k = args
    order = descending_order(x, -1)[..., :k]
    return [np.take_along_axis(x, order, axis=-1), order]


def make_kth_value(rng):
    dtype = pick(rng, DTYPES)
    x = random_values(rng, random_shape(rng, min_rank=1, min_dim=1), dtype)
    axis = random_axis(rng, x.ndim, allow_none=False)
    k = int(rng.integers(1, x.shape[axis] + 1))
    kw = {"axis": axis}
    if rng.random() < 0.3:
        kw["keepdims"] = True
    return [x, k], kw


def ref_kth_value(args, kw):
    x, k = args
    axis = kw["axis"]
    order = np.take(np.argsort(x, axis=axis, kind="stable"), [k - 1], axis=axis)
    values = np.take_along_axis(x, order, axis=axis)
    if not kw.get("keepdims"):
        values, order = np.squeeze(values, axis), np.squeeze(order, axis)
    return [values, order]


# ---------------------------------------------------------------------------------------------------
# median and quantiles

QUANTILE_METHODS = [
    "inverted_cdf", "averaged_inverted_cdf", "closest_observation", "interpolated_inverted_cdf", "hazen",
    "weibull", "linear", "median_unbiased", "normal_unbiased", "lower", "higher", "midpoint", "nearest",
]
# numpy cannot subtract bools: these pick one element, so bool input works.
DISCRETE_METHODS = ["inverted_cdf", "closest_observation", "lower", "higher", "nearest"]


def random_axes(rng, rank):
    """None, one axis, or a tuple of distinct axes (given as a list)."""
    if rank == 0 or rng.random() < 0.25:
        return None
    if rank >= 2 and rng.random() < 0.3:
        count = int(rng.integers(2, rank + 1))
        return [int(a) for a in rng.choice(np.arange(-rank, 0), count, replace=False)]
    return int(rng.integers(-rank, rank))


def np_axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def reduced_size(shape, axis):
    if axis is None:
        return int(np.prod(shape)) if shape else 1
    axes = axis if isinstance(axis, list) else [axis]
    return int(np.prod([shape[a] for a in axes]))


def numpy_cannot_reduce(x, axis):
    """numpy 1.24's _ureduce cannot reshape a zero-size array reduced over several axes (a numpy bug)."""
    return x.size == 0 and isinstance(axis, list)


def make_median(rng):
    dtype = pick(rng, DTYPES)
    for _ in range(100):
        x = random_values(rng, random_shape(rng), dtype)
        axis = random_axes(rng, x.ndim)
        if not numpy_cannot_reduce(x, axis):
            break
    kw = {"axis": axis}
    if rng.random() < 0.3:
        kw["keepdims"] = True
    return [x], kw


def ref_median(args, kw):
    return [np.asarray(np.median(args[0], axis=np_axis(kw["axis"]), keepdims=kw.get("keepdims", False)))]


def random_q(rng, scale):
    special = [0, 1, 0.5, 0.25, 0.75]
    one = lambda: float(pick(rng, special)) if rng.random() < 0.4 else float(rng.random())
    if rng.random() < 0.5:
        return one() * scale
    return [one() * scale for _ in range(int(rng.integers(1, 4)))]


def make_quantile_with(scale):
    def make(rng):
        method = pick(rng, QUANTILE_METHODS)
        dtype = pick(rng, DTYPES if method in DISCRETE_METHODS else DTYPES[1:])
        # numpy interpolates int32 in int32 (b - a wraps around near the extremes): no extremes there.
        specials = dtype != "int32" or method in DISCRETE_METHODS
        for _ in range(100):
            x = random_values(rng, random_shape(rng), dtype, specials)
            axis = random_axes(rng, x.ndim)
            if reduced_size(x.shape, axis) > 0 and not numpy_cannot_reduce(x, axis):
                break
        kw = {"axis": axis, "method": method}
        if rng.random() < 0.3:
            kw["keepdims"] = True
        return [x, random_q(rng, scale)], kw

    return make


def ref_quantile_with(fn):
    def reference(args, kw):
        x, q = args
        return [np.asarray(fn(x, q, axis=np_axis(kw["axis"]), method=kw["method"], keepdims=kw.get("keepdims", False)))]

    return reference


# ---------------------------------------------------------------------------------------------------
# searchsorted

def make_searchsorted(rng):
    dtype = pick(rng, DTYPES)
    a = np.sort(random_values(rng, (int(rng.choice(DIMS)),), dtype), kind="stable")
    if rng.random() < 0.2:
        # A JS number: weakly typed, as tracegrad's scalars are.
        v = float(pick(rng, [0, 1, -0.5, 2.5, 3])) if dtype != "bool" else 1
    else:
        v_dtype = dtype if rng.random() < 0.7 else pick(rng, DTYPES)
        v = random_values(rng, random_shape(rng), v_dtype)
    kw = {"side": pick(rng, ["left", "right"])}
    return [a, v], kw


def ref_searchsorted(args, kw):
    a, v = args
    return [np.asarray(np.searchsorted(a, v, side=kw["side"]))]


# ---------------------------------------------------------------------------------------------------
# shape and construction

def random_array(rng, min_rank=0, max_rank=3, min_dim=0):
    return random_values(rng, random_shape(rng, min_rank, max_rank, min_dim), pick(rng, DTYPES))


def make_roll(rng):
    x = random_array(rng)
    if x.ndim == 0 or rng.random() < 0.25:
        return [x, int(rng.integers(-9, 10))], {}
    if rng.random() < 0.4:
        n = int(rng.integers(1, 4))
        axes = [int(rng.integers(-x.ndim, x.ndim)) for _ in range(n)]
        shifts = [int(rng.integers(-9, 10)) for _ in range(n)]
        return [x, shifts if rng.random() < 0.7 else shifts[0]], {"axis": axes}
    return [x, int(rng.integers(-9, 10))], {"axis": int(rng.integers(-x.ndim, x.ndim))}


def ref_roll(args, kw):
    axis = kw.get("axis")
    shift = args[1]
    return [np.roll(args[0], tuple(shift) if isinstance(shift, list) else shift, axis=np_axis(axis))]


def make_triangle(rng):
    x = random_array(rng, min_rank=1, max_rank=4)
    kw = {}
    if rng.random() < 0.6:
        kw["k"] = int(rng.integers(-4, 5))
    return [x], kw


def ref_tril(args, kw):
    return [np.tril(args[0], k=kw.get("k", 0))]


def ref_triu(args, kw):
    return [np.triu(args[0], k=kw.get("k", 0))]


def make_tri(rng):
    n = int(rng.choice(DIMS))
    args = [n]
    if rng.random() < 0.6:
        args.append(int(rng.choice(DIMS)))
    kw = {"dtype": pick(rng, DTYPES)}
    if rng.random() < 0.6:
        kw["k"] = int(rng.integers(-4, 5))
    return args, kw


def ref_tri(args, kw):
    return [np.tri(*args, k=kw.get("k", 0), dtype=kw["dtype"])]


def make_diag(rng):
    x = random_array(rng, min_rank=1, max_rank=2)
    kw = {}
    if rng.random() < 0.6:
        kw["k"] = int(rng.integers(-4, 5))
    return [x], kw


def ref_diag(args, kw):
    return [np.diag(args[0], k=kw.get("k", 0))]


def make_diagonal(rng):
    x = random_array(rng, min_rank=2, max_rank=4)
    kw = {}
    if rng.random() < 0.6:
        kw["offset"] = int(rng.integers(-4, 5))
    if rng.random() < 0.5:
        a1, a2 = rng.choice(np.arange(-x.ndim, x.ndim), 2, replace=False)
        if (int(a1) % x.ndim) != (int(a2) % x.ndim):
            kw["axis1"], kw["axis2"] = int(a1), int(a2)
    return [x], kw


def diagonal_kw(kw):
    return {"offset": kw.get("offset", 0), "axis1": kw.get("axis1", 0), "axis2": kw.get("axis2", 1)}


def ref_diagonal(args, kw):
    return [np.diagonal(args[0], **diagonal_kw(kw))]


def make_trace(rng):
    # bool traces are sums of bools (numpy: int64, counted); the library's sum of bools is int32 too.
    x = random_values(rng, random_shape(rng, 2, 4), pick(rng, DTYPES), specials=False)
    return make_diagonal_kw(rng, x)


def make_diagonal_kw(rng, x):
    kw = {}
    if rng.random() < 0.6:
        kw["offset"] = int(rng.integers(-4, 5))
    if rng.random() < 0.5:
        a1, a2 = rng.choice(np.arange(-x.ndim, x.ndim), 2, replace=False)
        if (int(a1) % x.ndim) != (int(a2) % x.ndim):
            kw["axis1"], kw["axis2"] = int(a1), int(a2)
    return [x], kw


def ref_trace(args, kw):
    return [np.asarray(np.trace(args[0], **diagonal_kw(kw)))]


def make_swapaxes(rng):
    x = random_array(rng, min_rank=1, max_rank=4)
    return [x, int(rng.integers(-x.ndim, x.ndim)), int(rng.integers(-x.ndim, x.ndim))], {}


def ref_swapaxes(args, kw):
    return [np.swapaxes(*args)]


def make_ravel(rng):
    return [random_array(rng, max_rank=4)], {}


def ref_ravel(args, kw):
    return [np.ravel(args[0])]


def make_arrays_for(stack_rank):
    """Arrays that join under a stacking function: one random shape, the joined axis of each drawn anew."""
    def make(rng):
        dtype = pick(rng, DTYPES)
        count = int(rng.integers(1, 4))
        rank = int(rng.integers(0, 4))
        shape = list(random_shape(rng, rank, rank))
        arrays = []
        for _ in range(count):
            s = list(shape)
            probe = np.zeros(s)
            axis = stack_rank(probe)
            if axis is not None and axis < len(s) and rng.random() < 0.7:
                s[axis] = int(rng.choice(DIMS))
            d = dtype if rng.random() < 0.8 else pick(rng, DTYPES)
            arrays.append(random_values(rng, tuple(s), d))
        return arrays, {}
    return make


def vstack_axis(x):
    return 0 if x.ndim >= 2 else None


def hstack_axis(x):
    return 0 if x.ndim == 1 else (1 if x.ndim >= 2 else None)


def dstack_axis(x):
    return 2 if x.ndim >= 3 else None


def column_stack_axis(x):
    return 1 if x.ndim >= 2 else None


def ref_stack_with(fn):
    return lambda args, kw: [fn(args)]


def make_atleast(rng):
    return [random_array(rng, max_rank=4)], {}


def make_kron(rng):
    a = random_values(rng, random_shape(rng, 0, 3, 0), pick(rng, DTYPES), specials=False)
    b = random_values(rng, random_shape(rng, 0, 3, 0), pick(rng, DTYPES), specials=False)
    return [a, b], {}


def ref_kron(args, kw):
    return [np.asarray(np.kron(*args))]


def make_meshgrid(rng):
    count = int(rng.integers(0, 4))
    dtype = pick(rng, DTYPES)
    xs = [random_values(rng, random_shape(rng, 0, 2 if rng.random() < 0.2 else 1, 0), dtype) for _ in range(count)]
    kw = {}
    if rng.random() < 0.6:
        kw["indexing"] = pick(rng, ["xy", "ij"])
    if rng.random() < 0.3:
        kw["sparse"] = True
    return xs, kw


def ref_meshgrid(args, kw):
    return list(np.meshgrid(*args, indexing=kw.get("indexing", "xy"), sparse=kw.get("sparse", False)))


def make_indices(rng):
    dims = [int(d) for d in random_shape(rng, 0, 3)]
    kw = {}
    if rng.random() < 0.3:
        kw["sparse"] = True
    if rng.random() < 0.3:
        kw["dtype"] = pick(rng, ["int32", "float32", "float64"])
    return [dims], kw


def ref_indices(args, kw):
    out = np.indices(tuple(args[0]), dtype=kw.get("dtype", np.int64), sparse=kw.get("sparse", False))
    return list(out) if kw.get("sparse") else [out]


def make_logspace(rng):
    start = float(pick(rng, [0, 1, -2, 0.5, 2.5])) if rng.random() < 0.5 else float(np.round(rng.normal(0, 3), 3))
    stop = float(pick(rng, [0, 1, 3, -1.5])) if rng.random() < 0.5 else float(np.round(rng.normal(0, 3), 3))
    num = int(rng.choice([0, 1, 2, 5, 7, 50]))
    kw = {}
    if rng.random() < 0.3:
        kw["endpoint"] = False
    if rng.random() < 0.4:
        kw["base"] = float(pick(rng, [2, np.e, 0.5, 3]))
    return [start, stop, num], kw


def ref_logspace(args, kw):
    return [np.logspace(*args, endpoint=kw.get("endpoint", True), base=kw.get("base", 10.0))]


def make_geomspace(rng):
    sign = -1 if rng.random() < 0.3 else 1
    mag = lambda: float(pick(rng, [1, 2, 1000, 0.01, 3.5])) if rng.random() < 0.5 else float(np.round(10 ** rng.normal(0, 2), 4) or 1)
    num = int(rng.choice([0, 1, 2, 5, 7, 50]))
    kw = {}
    if rng.random() < 0.3:
        kw["endpoint"] = False
    return [sign * mag(), sign * mag(), num], kw


def ref_geomspace(args, kw):
    return [np.geomspace(*args, endpoint=kw.get("endpoint", True))]


# ---------------------------------------------------------------------------------------------------
# nonzero, argwhere, unique: eager without size; with JAX's size and fill_value (jit too)

def sparse_values(rng, shape, dtype):
    x = random_values(rng, shape, dtype)
    if dtype != "bool" and rng.random() < 0.7:
        x = np.where(rng.random(shape) < 0.5, np.zeros((), dtype), x).astype(dtype)
    return np.asarray(x)


def with_size(rng, kw, count):
    if rng.random() < 0.6:
        kw["size"] = int(max(0, count + rng.integers(-2, 4)))
        if rng.random() < 0.5:
            kw["fillValue"] = int(rng.integers(-3, 4))
    return kw


def make_nonzero(rng):
    x = sparse_values(rng, random_shape(rng, 1, 3), pick(rng, DTYPES))
    return [x], with_size(rng, {}, int(np.count_nonzero(x)))


def padded(a, size, fill, axis=0):
    if size is None:
        return a
    a = np.take(a, np.arange(min(size, a.shape[axis])), axis=axis)
    shape = list(a.shape)
    shape[axis] = size - a.shape[axis]
    return np.concatenate([a, np.full(shape, fill, a.dtype)], axis=axis)


def ref_nonzero(args, kw):
    return [padded(i, kw.get("size"), kw.get("fillValue", 0)) for i in np.nonzero(args[0])]


def make_argwhere(rng):
    x = sparse_values(rng, random_shape(rng, 0, 3), pick(rng, DTYPES))
    return [x], with_size(rng, {}, int(np.count_nonzero(x)))


def ref_argwhere(args, kw):
    return [padded(np.argwhere(args[0]), kw.get("size"), kw.get("fillValue", 0))]


def make_unique(rng):
    dtype = pick(rng, DTYPES)
    x = random_values(rng, random_shape(rng, 0, 3), dtype)
    kw = {}
    if x.ndim >= 1 and rng.random() < 0.45:
        kw["axis"] = int(rng.integers(-x.ndim, x.ndim))
        if rng.random() < 0.5 and x.size:
            # Few distinct values, so whole slices repeat.
            x = np.take(x, rng.integers(0, x.shape[kw["axis"]], x.shape[kw["axis"]]), axis=kw["axis"])
            if dtype != "bool" and rng.random() < 0.5:
                x = np.round(x / 4).astype(dtype) if dtype == "int32" else np.where(np.isnan(x), x, np.sign(x)).astype(dtype)
    elif rng.random() < 0.1:
        kw["axis"] = None
    for flag in ["returnIndex", "returnInverse", "returnCounts"]:
        if rng.random() < 0.45:
            kw[flag] = True
    count = len(ref_unique([x], {"axis": kw.get("axis")})[0]) if "axis" not in kw or kw["axis"] is None else ref_unique([x], {"axis": kw["axis"]})[0].shape[kw["axis"]]
    return [x], with_size(rng, kw, count)


def ref_unique(args, kw):
    """numpy's unique with a stable sort (return_index makes numpy use mergesort), JAX's size padding."""
    x, axis = args[0], kw.get("axis")
    values, index, inverse, counts = np.unique(x, return_index=True, return_inverse=True, return_counts=True, axis=axis)
    out = [values]
    if kw.get("returnIndex"):
        out.append(index)
    if kw.get("returnInverse"):
        out.append(inverse)
    if kw.get("returnCounts"):
        out.append(counts)
    size = kw.get("size")
    if size is not None:
        rows = np.moveaxis(values, axis, 0) if axis is not None else values
        fill = np.full(rows.shape[1:], kw["fillValue"], x.dtype) if "fillValue" in kw else (rows[0] if len(rows) else np.zeros(rows.shape[1:], x.dtype))
        count = len(rows)
        rows = np.concatenate([rows[:size], np.broadcast_to(fill, (max(size - count, 0),) + rows.shape[1:])]).astype(x.dtype)
        out[0] = np.moveaxis(rows, 0, axis) if axis is not None else rows
        k = 1
        if kw.get("returnIndex"):
            out[k] = padded(index, size, index[0] if count else 0)
            k += 1
        if kw.get("returnInverse"):
            k += 1
        if kw.get("returnCounts"):
            out[k] = padded(counts, size, 0)
    return [np.asarray(o) for o in out]


# ---------------------------------------------------------------------------------------------------
# NaN-ignoring reductions, ptp, average, count_nonzero

def nan_heavy(rng, x):
    """Floats with many NaN: scattered, and in some cases whole rows (all-NaN slices)."""
    if x.dtype.kind != "f" or x.size == 0:
        return x
    x = x.copy()
    x[rng.random(x.shape) < rng.choice([0.0, 0.3, 0.7])] = np.nan
    if x.ndim == 1 and rng.random() < 0.2:
        x[:] = np.nan
    if x.ndim >= 2 and rng.random() < 0.4:
        x[int(rng.integers(x.shape[0]))] = np.nan
        x[..., int(rng.integers(x.shape[-1]))] = np.nan
    return x


def make_nan_reduce_with(dtypes, nonempty=False, ddof=False, tuple_axes=True, int_extremes=True):
    def make(rng):
        dtype = pick(rng, dtypes)
        specials = int_extremes or dtype != "int32"
        for _ in range(100):
            x = nan_heavy(rng, random_values(rng, random_shape(rng), dtype, specials))
            axis = random_axes(rng, x.ndim) if tuple_axes else random_axis(rng, x.ndim)
            if numpy_cannot_reduce(x, axis) or (nonempty and reduced_size(x.shape, axis) == 0):
                continue
            if nonempty and axis is None and x.size == 0:
                continue
            break
        kw = {"axis": axis}
        if rng.random() < 0.3:
            kw["keepdims"] = True
        if ddof and rng.random() < 0.6:
            kw["ddof"] = int(rng.integers(0, 3))
        return [x], kw

    return make


def ref_reduce_with(fn):
    def reference(args, kw):
        extra = {"ddof": kw["ddof"]} if "ddof" in kw else {}
        return [np.asarray(fn(args[0], axis=np_axis(kw["axis"]), keepdims=kw.get("keepdims", False), **extra))]

    return reference


def ref_nan_arg_with(fn):
    """numpy raises on an all-NaN slice; tracegrad (as jax.numpy) gives -1 there."""
    def reference(args, kw):
        x, axis, keepdims = args[0], kw["axis"], kw.get("keepdims", False)
        if x.dtype.kind != "f":
            return [np.asarray(fn(x, axis=axis, keepdims=keepdims))]
        all_nan = np.all(np.isnan(x), axis=axis, keepdims=True)
        filled = np.where(all_nan, 0, x)
        index = np.asarray(fn(filled, axis=axis, keepdims=True))
        index = np.where(all_nan, -1, index)
        if not keepdims:
            index = index.reshape(()) if axis is None else np.squeeze(index, axis)
        return [np.asarray(index)]

    return reference


def make_average(rng):
    dtype = pick(rng, DTYPES)
    x = nan_heavy(rng, random_values(rng, random_shape(rng), dtype, dtype != "int32"))
    kind = pick(rng, ["none", "full", "full", "1d"])
    kw = {}
    args = [x]
    if kind == "1d" and x.ndim >= 1:
        axis = random_axis(rng, x.ndim, allow_none=False)
        kw["axis"] = axis
        n = x.shape[axis]
        w_dtype = pick(rng, ["int32", "float32", "float64"])
        args.append((rng.integers(1, 5, n) if w_dtype == "int32" else rng.random(n) + 0.25).astype(w_dtype))
    else:
        kw["axis"] = random_axes(rng, x.ndim)
        if kind != "none":
            w_dtype = pick(rng, ["int32", "float32", "float64"])
            w = rng.integers(1, 5, x.shape) if w_dtype == "int32" else rng.random(x.shape) + 0.25
            args.append(np.asarray(w).astype(w_dtype))
    # numpy raises when the weights sum to zero (an empty reduction), and cannot reduce size 0 over tuples
    if (len(args) == 2 and reduced_size(x.shape, kw["axis"]) == 0) or numpy_cannot_reduce(x, kw["axis"]):
        args, kw = [x], {"axis": None}
    if rng.random() < 0.3:
        kw["keepdims"] = True
    if rng.random() < 0.3:
        kw["returned"] = True
    return args, kw


def ref_average(args, kw):
    weights = args[1] if len(args) > 1 else None
    out = np.average(args[0], axis=np_axis(kw["axis"]), weights=weights, returned=kw.get("returned", False),
                     keepdims=kw.get("keepdims", False))
    return [np.asarray(o) for o in out] if kw.get("returned") else [np.asarray(out)]

# ---------------------------------------------------------------------------------------------------
# numpy indexing: np.index(x, *items) is x[tuple(items)]; items are ints, slices (Python's syntax as a
# string or a {start, stop, step} dict), None (newaxis), "..." (ellipsis), int32 arrays and nested lists,
# bool masks (arrays, nested lists, scalars). kw {size, fillValue} gives masks a static size.

def random_slice_bound(rng, n):
    return None if rng.random() < 0.35 else int(rng.integers(-n - 3, n + 4))


def random_slice_item(rng, n):
    start, stop = random_slice_bound(rng, n), random_slice_bound(rng, n)
    step = None if rng.random() < 0.4 else int(pick(rng, [1, 2, 3, -1, -2, -3]))
    as_slice = slice(start, stop, step)
    if rng.random() < 0.5:
        text = ("" if start is None else str(start)) + ":" + ("" if stop is None else str(stop))
        if step is not None or rng.random() < 0.2:
            text += ":" + ("" if step is None else str(step))
        return text, as_slice
    spec = {k: v for k, v in (("start", start), ("stop", stop), ("step", step)) if v is not None}
    return spec, as_slice


def random_index_array(rng, n, shape, as_list):
    values = rng.integers(-n, n, shape) if n > 0 else np.zeros(shape, np.int64)
    values = np.asarray(values, np.int32)
    return (values.tolist() if as_list else values), values


def make_index(rng):
    for _ in range(100):
        x = random_values(rng, random_shape(rng, 0 if rng.random() < 0.1 else 1, 4), pick(rng, DTYPES))
        # one broadcast shape for the integer arrays; masks bring their own count, so arrays beside a
        # mask are 0-d or (1,)
        b_shape = tuple(int(pick(rng, [1, 2, 3, 0, 1, 2])) for _ in range(int(rng.integers(0, 3))))
        items, reference, kw = [], [], {}
        has_mask = False
        axis = 0
        used_ellipsis = False
        while axis < x.ndim or (rng.random() < 0.2 and len(items) < x.ndim + 2):
            r = rng.random()
            left = x.ndim - axis
            if r < 0.1:
                items.append(None)
                reference.append(None)
                continue
            if r < 0.14:
                v = bool(rng.random() < 0.6)
                items.append(v)
                reference.append(v)
                continue
            if left == 0:
                break
            n = x.shape[axis]
            if r < 0.2 and not used_ellipsis:
                used_ellipsis = True
                items.append("...")
                reference.append(Ellipsis)
                axis = x.ndim - int(rng.integers(0, left + 1))
                continue
            if r < 0.32 and n > 0:
                v = int(rng.integers(-n, n))
                items.append(v)
                reference.append(v)
                axis += 1
                continue
            if r < 0.62:
                item, as_slice = random_slice_item(rng, n)
                items.append(item)
                reference.append(as_slice)
                axis += 1
                continue
            if r < 0.85 or has_mask:
                shape = b_shape[len(b_shape) - int(rng.integers(0, len(b_shape) + 1)):]
                if has_mask:
                    shape = pick(rng, [(), (1,)])
                if n == 0 and int(np.prod(shape)) > 0:
                    shape = (0,)
                item, values = random_index_array(rng, n, shape, rng.random() < 0.3)
                items.append(item)
                reference.append(values)
                axis += 1
                continue
            # a mask over one or two axes; other arrays then must not broadcast against its count
            if any(isinstance(v, np.ndarray) and v.ndim > 0 and v.size != 1 for v in reference):
                continue
            k = int(rng.integers(1, min(2, left) + 1))
            mask = rng.random(x.shape[axis:axis + k]) < rng.choice([0.2, 0.5, 0.9])
            has_mask = True
            items.append(mask.tolist() if mask.size > 0 and rng.random() < 0.2 else mask)
            reference.append(mask)
            axis += k
        masks = [m for m in reference if isinstance(m, np.ndarray) and m.dtype == np.bool_]
        if masks and not any(isinstance(v, bool) for v in items) and rng.random() < 0.6:
            counts = [int(np.count_nonzero(m)) for m in masks]
            kw["size"] = int(rng.integers(0, max(counts) + 3))
            if rng.random() < 0.7:
                kw["fillValue"] = int(rng.integers(-3, 4))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                x[tuple(reference)]
                ref_index([x, *items], kw)
        except (IndexError, ValueError, DeprecationWarning, np.VisibleDeprecationWarning):
            continue
        return [x, *items], kw
    return [x], {}


def decoded_item(item):
    if isinstance(item, str):
        if item == "...":
            return Ellipsis
        parts = [int(p) if p else None for p in item.split(":")]
        return slice(*parts) if len(parts) == 3 else slice(parts[0], parts[1])
    if isinstance(item, dict):
        return slice(item.get("start"), item.get("stop"), item.get("step"))
    if isinstance(item, list):
        return np.asarray(item, dtype=np.bool_ if any_bool(item) else np.int64)
    return item


def any_bool(v):
    return any(any_bool(w) for w in v) if isinstance(v, list) else isinstance(v, bool)


def ref_index(args, kw):
    x, items = args[0], [decoded_item(i) for i in args[1:]]
    size = kw.get("size")
    if size is None:
        return [np.asarray(x[tuple(items)])]
    # A static size: each array mask becomes its nonzero positions, padded to `size` with the position
    # one past the end of every axis it covers, where x is padded with the fill value.
    fill = np.asarray(kw.get("fillValue", 0)).astype(x.dtype)
    is_mask = [isinstance(i, np.ndarray) and i.dtype == np.bool_ for i in items]
    consumed = sum(i.ndim if m else 1 for i, m in zip(items, is_mask)
                   if i is not None and i is not Ellipsis and not isinstance(i, bool))
    widths = [[0, 0] for _ in range(x.ndim)]
    out_items, axis = [], 0
    for i, m in zip(items, is_mask):
        if i is Ellipsis:
            out_items.append(i)
            axis += x.ndim - consumed
        elif i is None or isinstance(i, bool):
            out_items.append(i)
        elif m:
            positions = np.nonzero(i)
            for k, p in enumerate(positions):
                widths[axis + k] = [0, 1]
                ends = np.full(size, x.shape[axis + k], np.int64)
                ends[:min(size, len(p))] = p[:size]
                out_items.append(ends)
            axis += i.ndim
        else:
            out_items.append(i)
            axis += 1
    padded_x = np.pad(x, widths, constant_values=fill)
    return [np.asarray(padded_x[tuple(out_items)])]



# ---------------------------------------------------------------------------------------------------
# cumulative reductions: numpy's accumulate in the library's dtypes (int32 sums and products wrap in
# int32, as the library's and JAX's; numpy would widen to int64)

def make_cumulative_with(dtypes):
    def make(rng):
        x = random_values(rng, random_shape(rng), pick(rng, dtypes))
        kw = {"axis": random_axis(rng, x.ndim)}
        if x.ndim == 0 and rng.random() < 0.5:
            kw["axis"] = int(pick(rng, [0, -1]))  # numpy and JAX: a 0-d array accumulates as 1-d
        if rng.random() < 0.35:
            kw["reverse"] = True
        return [x], kw

    return make


def ref_cumulative_with(accumulate, dtype_of):
    def reference(args, kw):
        x, axis = flat_if_none(args[0], None if args[0].ndim == 0 else kw["axis"])
        x = x.astype(dtype_of(x.dtype))
        if kw.get("reverse"):
            return [np.flip(accumulate(np.flip(x, axis), axis), axis)]
        return [accumulate(x, axis)]

    return reference


def counting_dtype(dtype):
    """BOOL_OPERANDS' int32 for sums and products of bool; int32 stays int32 (numpy: int64)."""
    return np.int32 if dtype.kind in "bi" else dtype


def float_dtype(dtype):
    return dtype if dtype.kind == "f" else np.float32


# ---------------------------------------------------------------------------------------------------
# pad: every mode, widths wider than the axis, per-side constant values in numpy's broadcast forms

PAD_MODES = ["constant", "edge", "reflect", "symmetric", "wrap"]


def random_pad_width(rng, shape, mode):
    """numpy's pad_width forms; empty axes get no padding except in mode constant."""
    width = lambda: int(pick(rng, [0, 0, 1, 1, 2, 3, 4, 6, 9]))
    kind = rng.random()
    if len(shape) == 0 or (mode != "constant" and 0 in shape and kind < 0.35):
        kind = 1.0
    if kind < 0.2:
        return width()
    if kind < 0.35:
        return [width(), width()]
    pairs = [[width(), width()] if (d > 0 or mode == "constant") else [0, 0] for d in shape]
    if len(shape) == 0:
        return width() if mode == "constant" or rng.random() < 0.5 else 0
    if rng.random() < 0.15:
        return [[p[0]] for p in pairs]
    return pairs


def random_constant_values(rng, ndim, dtype):
    value = lambda: float(pick(rng, [0, 1, -2, 7]) if dtype == "int32" else pick(rng, [0, 1, -2.5, 0.5, np.nan, np.inf, -0.0]))
    kind = pick(rng, ["none", "one", "pair", "per_axis", "column"])
    if kind == "none":
        return None
    if kind == "one" or ndim == 0:
        return value()
    if kind == "pair":
        return [value(), value()]
    if kind == "column":
        return [[value()] for _ in range(ndim)]
    return [[value(), value()] for _ in range(ndim)]


def encode_nested(v):
    return [encode_nested(e) for e in v] if isinstance(v, list) else enc(v)


def decode_nested(v):
    return [decode_nested(e) for e in v] if isinstance(v, list) else float(v)


def make_pad(rng):
    mode = pick(rng, PAD_MODES)
    x = random_array(rng, max_rank=3)
    kw = {"mode": mode}
    if mode == "constant":
        values = random_constant_values(rng, x.ndim, x.dtype.name)
        if values is not None:
            # JSON has no NaN, infinities or -0: encoded as enc() writes them, decoded by functions.ts.
            kw["constantValues"] = encode_nested(values)
    return [x, random_pad_width(rng, x.shape, mode)], kw


def periodic_pad(x, pairs):
    """mode wrap as numpy 1.25 and JAX: the array continued periodically."""
    for axis, (lo, hi) in enumerate(pairs):
        n = x.shape[axis]
        if n > 0:
            x = np.take(x, np.arange(-lo, n + hi) % n, axis=axis)
    return x


def ref_pad(args, kw):
    x, width = args
    mode = kw["mode"]
    if mode == "constant":
        values = decode_nested(kw.get("constantValues", 0))
        return [np.pad(x, width, mode="constant", constant_values=values)]
    out = np.pad(x, width, mode=mode)
    if mode == "wrap":
        pairs = [list(p) for p in np.lib.arraypad._as_pairs(width, x.ndim, as_index=True)]
        periodic = periodic_pad(x, pairs)
        # numpy 1.24's wrap is periodic as long as no pad is wider than its axis (numpy/numpy#22464).
        assert any(lo > n or hi > n for (lo, hi), n in zip(pairs, x.shape)) or np.array_equal(out, periodic, equal_nan=True)
        out = periodic
    return [out]


ENTRIES = [
    Entry("sort", 130, make_sort, ref_sort),
    Entry("argsort", 130, make_sort, ref_argsort),
    Entry("topK", 70, make_top_k, ref_top_k),
    Entry("kthValue", 70, make_kth_value, ref_kth_value),
    Entry("median", 90, make_median, ref_median),
    Entry("quantile", 160, make_quantile_with(1), ref_quantile_with(np.quantile)),
    Entry("percentile", 50, make_quantile_with(100), ref_quantile_with(np.percentile)),
    Entry("searchsorted", 90, make_searchsorted, ref_searchsorted),
    Entry("roll", 120, make_roll, ref_roll),
    Entry("tril", 70, make_triangle, ref_tril),
    Entry("triu", 70, make_triangle, ref_triu),
    Entry("tri", 40, make_tri, ref_tri),
    Entry("diag", 80, make_diag, ref_diag),
    Entry("diagonal", 90, make_diagonal, ref_diagonal),
    Entry("trace", 70, make_trace, ref_trace),
    Entry("swapaxes", 50, make_swapaxes, ref_swapaxes),
    Entry("ravel", 30, make_ravel, ref_ravel),
    Entry("vstack", 60, make_arrays_for(vstack_axis), ref_stack_with(np.vstack)),
    Entry("hstack", 60, make_arrays_for(hstack_axis), ref_stack_with(np.hstack)),
    Entry("dstack", 50, make_arrays_for(dstack_axis), ref_stack_with(np.dstack)),
    Entry("columnStack", 50, make_arrays_for(column_stack_axis), ref_stack_with(np.column_stack)),
    Entry("atleast1d", 25, make_atleast, lambda args, kw: [np.atleast_1d(args[0])]),
    Entry("atleast2d", 25, make_atleast, lambda args, kw: [np.atleast_2d(args[0])]),
    Entry("atleast3d", 25, make_atleast, lambda args, kw: [np.atleast_3d(args[0])]),
    Entry("kron", 80, make_kron, ref_kron),
    Entry("meshgrid", 60, make_meshgrid, ref_meshgrid),
    Entry("indices", 40, make_indices, ref_indices),
    Entry("logspace", 50, make_logspace, ref_logspace),
    Entry("geomspace", 50, make_geomspace, ref_geomspace),
    Entry("nonzero", 90, make_nonzero, ref_nonzero),
    Entry("argwhere", 80, make_argwhere, ref_argwhere),
    Entry("unique", 260, make_unique, ref_unique),
    Entry("nansum", 35, make_nan_reduce_with(DTYPES, int_extremes=False), ref_reduce_with(np.nansum)),
    Entry("nanmean", 35, make_nan_reduce_with(DTYPES, int_extremes=False), ref_reduce_with(np.nanmean)),
    Entry("nanmax", 30, make_nan_reduce_with(DTYPES, nonempty=True), ref_reduce_with(np.nanmax)),
    Entry("nanmin", 30, make_nan_reduce_with(DTYPES, nonempty=True), ref_reduce_with(np.nanmin)),
    Entry("nanvar", 35, make_nan_reduce_with(DTYPES, ddof=True, int_extremes=False), ref_reduce_with(np.nanvar)),
    Entry("nanstd", 30, make_nan_reduce_with(DTYPES, ddof=True, int_extremes=False), ref_reduce_with(np.nanstd)),
    Entry("nanargmax", 30, make_nan_reduce_with(DTYPES, nonempty=True, tuple_axes=False), ref_nan_arg_with(np.nanargmax)),
    Entry("nanargmin", 30, make_nan_reduce_with(DTYPES, nonempty=True, tuple_axes=False), ref_nan_arg_with(np.nanargmin)),
    Entry("ptp", 30, make_nan_reduce_with(DTYPES[1:], nonempty=True), ref_reduce_with(np.ptp)),
    Entry("average", 45, make_average, ref_average),
    Entry("countNonzero", 30, make_nan_reduce_with(DTYPES), ref_reduce_with(np.count_nonzero)),
    Entry("index", 400, make_index, ref_index),
    Entry("cumsum", 70, make_cumulative_with(DTYPES),
          ref_cumulative_with(lambda x, axis: np.add.accumulate(x, axis, dtype=x.dtype), counting_dtype)),
    Entry("cumprod", 90, make_cumulative_with(DTYPES),
          ref_cumulative_with(lambda x, axis: np.multiply.accumulate(x, axis, dtype=x.dtype), counting_dtype)),
    Entry("cummax", 90, make_cumulative_with(DTYPES),
          ref_cumulative_with(lambda x, axis: np.maximum.accumulate(x, axis), lambda d: d)),
    Entry("cummin", 90, make_cumulative_with(DTYPES),
          ref_cumulative_with(lambda x, axis: np.minimum.accumulate(x, axis), lambda d: d)),
    Entry("logcumsumexp", 90, make_cumulative_with(DTYPES),
          ref_cumulative_with(lambda x, axis: np.logaddexp.accumulate(x, axis), float_dtype)),
    Entry("pad", 400, make_pad, ref_pad),
]


def cases_of(entry):
    rng = np.random.default_rng(zlib.crc32(entry.name.encode()))
    for _ in range(entry.count):
        args, kw = entry.make(rng)
        out = entry.reference(args, kw)
        yield {"fn": entry.name, "args": [enc_arg(a) for a in args], "kw": kw, "out": [enc_array(o) for o in out]}


def write_gzip(path, text):
    # mtime 0 and no file name: the same cases give the same bytes.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf8"))


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "data"
    out.mkdir(parents=True, exist_ok=True)
    cases = [c for entry in ENTRIES for c in cases_of(entry)]
    meta = {"numpy_version": np.__version__, "cases": len(cases)}
    lines = ",\n".join(json.dumps(c, separators=(",", ":")) for c in cases)
    write_gzip(out / "numpy-cases.json.gz", '{"meta":' + json.dumps(meta) + ',\n"cases":[\n' + lines + "\n]}\n")
    print(f"{len(cases)} cases -> {out / 'numpy-cases.json.gz'}")


if __name__ == "__main__":
    main()
