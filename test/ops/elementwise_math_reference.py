"""Regenerates test/ops/elementwise-math-reference.json.gz: numpy 1.24's values of the elementwise
functions of src/ops/elementwise-math.ts, in float64 and float32, on edge cases and random sweeps.

    /usr/bin/python3 test/ops/elementwise_math_reference.py test/ops/elementwise-math-reference.json.gz

Needs numpy (Debian's python3-numpy 1.24 for /usr/bin/python3; a pyenv python3 first on PATH may lack
it) and mpmath (python3-mpmath, for the correctly rounded float64 values). Deterministic: the random
inputs come from numpy's PCG64 seeded per op, so a run with the same numpy writes the same inputs.
numpy's float64 and float32 transcendental loops may use SIMD code chosen by the CPU (SVML on
AVX512_SKX), so the outputs can differ in their last bits between machines: `meta` records numpy's
CPU features, and the tests compare within a few ulps, never bit for bit.

Format (JSON, gzipped): {"meta": {...}, "ops": {name: {dtype: case}}} where a case is
    {"args": [b64, ...], "out": b64, "out_dtype": "float64" | "float32" | "bool",
     "exact": b64 | absent}
Each b64 is the array's little-endian bytes in base64 (float64 as 8 bytes, float32 as 4, bool as 1),
which keeps -0, NaN and the infinities exact (a NaN output is written as the one positive quiet NaN:
numpy's NaN sign bits differ between runs). `exact` (float64 only, where mpmath knows the function)
is the correctly rounded value, so a test can tell numpy's own error from ours. `python_expr` in each
op says what numpy computed (xlogy and xlog1py are scipy.special's, written out in numpy as scipy
defines them: 0 where x == 0 and y is not NaN).
"""

import base64
import gzip
import json
import math
import platform
import sys
import zlib

import mpmath
import numpy as np

np.seterr(all="ignore")
mpmath.mp.prec = 300


def b64(a, one_nan=False):
    a = np.ascontiguousarray(a)
    if one_nan and a.dtype.kind == "f" and np.isnan(a).any():
        # numpy's NaN sign bit can depend on which loop ran (it differs between runs): one NaN
        a = np.where(np.isnan(a), a.dtype.type(np.nan), a)
    if a.dtype == np.bool_:
        a = a.astype(np.uint8)
    return base64.b64encode(a.astype(a.dtype.newbyteorder("<")).tobytes()).decode("ascii")


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


# ---------------------------------------------------------------------------------------------------
# inputs


def specials(dt):
    f = np.finfo(dt)
    tiny_sub = float(np.nextafter(dt(0), dt(1)))
    vals = [0.0, math.inf, math.nan, tiny_sub, float(f.tiny), float(f.tiny) / 3, float(f.max), float(f.eps)]
    vals += [1e-300, 1e-200, 1e-100, 1e-40, 1e-30, 1e-20, 1e-10, 1e-8, 1e-5, 1e-3, 0.01, 0.1]
    vals += [0.25, 0.5, 0.75, 0.9, 0.99, 1.0, 1.5, 2.0, 2.5, 3.0, math.pi, 4.0, 5.5, 10.0, 20.0, 22.5, 30.0]
    vals += [44.0, 50.0, 88.0, 88.7, 89.4, 89.5, 90.0, 100.0, 180.0, 360.0, 500.0, 700.0, 709.7, 710.0, 710.5]
    vals += [1000.0, 1e5, 1e10, 1e15, 1e20, 1e30, 1e38, 1e100, 1e200, 1e300]
    one = dt(1)
    vals += [float(np.nextafter(one, dt(2))), float(np.nextafter(one, dt(0)))]
    vals += [2.0**k for k in (-1074, -1022, -149, -126, -60, -30, -3, 3, 10, 52, 53, 60, 127, 128, 1023)]
    vals += [10.0**k for k in (-5, -2, 3, 7, 22, 23)]
    vals += [0.5 + 2.0**-20, 2.5 + 2.0**-20, 1e15 + 0.5, 4503599627370495.5, 8388607.5, 16777216.0]
    out = []
    for v in vals:
        out += [v, -v]
    a = np.array(out, dtype=np.float64)
    with np.errstate(all="ignore"):
        a = a.astype(dt)  # out-of-range values become inf, tiny ones 0 in float32
    # unique by bits, keeping the order
    seen = set()
    keep = []
    for x in a:
        key = x.tobytes()
        if key not in seen:
            seen.add(key)
            keep.append(x)
    return np.array(keep, dtype=dt)


def sweep(rng, dt, lo_exp, hi_exp, n, signed=True):
    """|x| log-uniform in [10**lo_exp, 10**hi_exp], either sign."""
    mag = 10.0 ** rng.uniform(lo_exp, hi_exp, n)
    sign = rng.choice([-1.0, 1.0], n) if signed else np.ones(n)
    return (mag * sign).astype(dt)


def uniform(rng, dt, lo, hi, n):
    return rng.uniform(lo, hi, n).astype(dt)


def unary_inputs(name, dt, extra):
    rng = rng_for(name + str(np.dtype(dt)))
    big = 300 if dt == np.float64 else 37
    parts = [
        specials(dt),
        sweep(rng, dt, -big, big, 120),
        uniform(rng, dt, -6, 6, 120),
        np.array(extra, dtype=np.float64).astype(dt),
    ]
    if name in EXTRA_SWEEPS:
        for lo, hi, n in EXTRA_SWEEPS[name]:
            parts.append(uniform(rng, dt, lo, hi, n))
    return np.concatenate(parts)


PAIR_EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 3.0, 1e-300, -1e-20, 1e20, -1e300, 700.0, -745.0, math.inf, -math.inf, math.nan]


def binary_inputs(name, dt, x_extra=(), y_extra=()):
    rng = rng_for(name + str(np.dtype(dt)))
    edges = np.array(PAIR_EDGES + list(x_extra), dtype=np.float64).astype(dt)
    y_edges = np.array(PAIR_EDGES + list(y_extra), dtype=np.float64).astype(dt)
    gx, gy = np.meshgrid(edges, y_edges, indexing="ij")
    big = 300 if dt == np.float64 else 37
    xs = [gx.ravel(), sweep(rng, dt, -big, big, 100), uniform(rng, dt, -6, 6, 150)]
    ys = [gy.ravel(), sweep(rng, dt, -big, big, 100), uniform(rng, dt, -6, 6, 150)]
    # nearby pairs: cancellation in differences, ties
    base = uniform(rng, dt, -50, 50, 60)
    xs.append(base)
    ys.append((base * (1 + rng.uniform(-1e-6, 1e-6, 60))).astype(dt))
    xs.append(base)
    ys.append(base)
    return np.concatenate(xs), np.concatenate(ys)


EXTRA_SWEEPS = {
    "asin": [(-1, 1, 150)],
    "acos": [(-1, 1, 150)],
    "atanh": [(-1, 1, 150), (0.999, 1, 40), (-1, -0.999, 40)],
    "acosh": [(1, 3, 100), (1, 1.001, 40)],
    "log2": [(0, 4, 100)],
    "log10": [(0, 4, 100)],
    "exp2": [(-1100, 1100, 100), (-160, 140, 60)],
    "sinc": [(-0.01, 0.01, 40), (-20, 20, 100)],
    "sinh": [(-1, 1, 100), (700, 712, 40)],
    "cosh": [(-1, 1, 100), (700, 712, 40)],
    "asinh": [(-1, 1, 100)],
    "trunc": [(-1e16, 1e16, 40)],
}

UNARY_EXTRA = {
    "asin": [1 - 2**-53, 1 - 2**-24, 0.5, 0.9999999],
    "acos": [1 - 2**-53, 1 - 2**-24, 0.5, 0.9999999],
    "atanh": [1 - 2**-53, 1 - 2**-24, 0.5, 0.9999999, 1e-9],
    "acosh": [1 + 2**-52, 1 + 2**-23, 1.0000001, 1e154, 1e155, 1e308],
    "log2": [2.0**k for k in range(-1074, 1024, 37)] + [3.0, 5.0, 7.0],
    "log10": [10.0**k for k in range(-307, 309, 7)] + [3.0, 7.0, 1e22, 1e23],
    "exp2": [-1074.0, -1075.0, -1022.5, -149.0, -150.0, 1023.0, 1024.0, 127.0, 128.0, 0.5, -0.5, 1 / 3],
    "sinc": [1e-8, 1e-10, 0.5, 1.5, 2.0, 1e8],
    "sinh": [710.4, 710.47, 710.48, 89.4, 89.41, 89.42, 1e-9, 2**-28, 0.3, 22.0, 23.0],
    "cosh": [710.4, 710.47, 710.48, 89.4, 89.41, 89.42, 1e-9, 2**-28, 0.3, 22.0, 23.0],
    "cbrt": [27.0, 8.0, 1e-300, 1e300, 0.001, 64.0, 1e-45],
    "asinh": [1e154, 1e155, 1e300, 2**28, 2**-28, 1e-9],
    "deg2rad": [90.0, 45.0, 270.0, 1e300],
    "rad2deg": [math.pi / 2, math.pi / 4, 1e300],
}


# ---------------------------------------------------------------------------------------------------
# the functions: numpy's, and exact ones in mpmath (None where mpmath has no counterpart)


def sp_xlogy(x, y):
    with np.errstate(all="ignore"):
        out = x * np.log(y)
    return np.where((x == 0) & ~np.isnan(y), x.dtype.type(0), out)


def sp_xlog1py(x, y):
    with np.errstate(all="ignore"):
        out = x * np.log1p(y)
    return np.where((x == 0) & ~np.isnan(y), x.dtype.type(0), out)


def heaviside_half(x):
    return np.heaviside(x, x.dtype.type(0.5))


def mp_unary(fn):
    def exact(x):
        x = float(x)
        if not math.isfinite(x):
            return None
        try:
            v = fn(mpmath.mpf(x))
        except (ValueError, ZeroDivisionError):
            return None
        if isinstance(v, mpmath.mpc):
            return math.nan
        try:
            return float(v)  # round to nearest (float64 overflow gives inf)
        except OverflowError:
            return math.copysign(math.inf, v)

    return exact


def mp_sinc(x):
    return mpmath.mpf(1) if x == 0 else mpmath.sin(mpmath.pi * x) / (mpmath.pi * x)


def mp_logaddexp(x, y):
    # max + log1p(exp(-|x - y|)): exact in mpmath (the plain log(exp(x) + exp(y)) loses a tiny result)
    return max(x, y) + mpmath.log1p(mpmath.exp(-abs(x - y)))


def mp_logaddexp2(x, y):
    return max(x, y) + mpmath.log1p(mpmath.power(2, -abs(x - y))) / mpmath.log(2)


def mp_binary(fn):
    def exact(x, y):
        x, y = float(x), float(y)
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        try:
            v = fn(mpmath.mpf(x), mpmath.mpf(y))
        except (ValueError, ZeroDivisionError):
            return None
        if isinstance(v, mpmath.mpc):
            return math.nan
        try:
            return float(v)
        except OverflowError:
            return math.copysign(math.inf, v)

    return exact


UNARY = {
    # name: (numpy function, python_expr, exact in mpmath or None)
    "sinh": (np.sinh, "np.sinh(x)", mp_unary(mpmath.sinh)),
    "cosh": (np.cosh, "np.cosh(x)", mp_unary(mpmath.cosh)),
    "asinh": (np.arcsinh, "np.arcsinh(x)", mp_unary(mpmath.asinh)),
    "acosh": (np.arccosh, "np.arccosh(x)", mp_unary(mpmath.acosh)),
    "atanh": (np.arctanh, "np.arctanh(x)", mp_unary(mpmath.atanh)),
    "asin": (np.arcsin, "np.arcsin(x)", mp_unary(mpmath.asin)),
    "acos": (np.arccos, "np.arccos(x)", mp_unary(mpmath.acos)),
    "cbrt": (np.cbrt, "np.cbrt(x)", mp_unary(lambda v: mpmath.sign(v) * mpmath.cbrt(abs(v)))),
    "log2": (np.log2, "np.log2(x)", mp_unary(lambda v: mpmath.log(v, 2))),
    "log10": (np.log10, "np.log10(x)", mp_unary(mpmath.log10)),
    "exp2": (np.exp2, "np.exp2(x)", mp_unary(lambda v: mpmath.power(2, v))),
    "trunc": (np.trunc, "np.trunc(x)", None),
    "isinf": (np.isinf, "np.isinf(x)", None),
    "isposinf": (np.isposinf, "np.isposinf(x)", None),
    "isneginf": (np.isneginf, "np.isneginf(x)", None),
    "sinc": (np.sinc, "np.sinc(x)", mp_unary(mp_sinc)),
    "deg2rad": (np.deg2rad, "np.deg2rad(x)", None),
    "rad2deg": (np.rad2deg, "np.rad2deg(x)", None),
    "heaviside": (heaviside_half, "np.heaviside(x, 0.5) (as a unary op for the edge sweep)", None),
}

BINARY = {
    "hypot": (np.hypot, "np.hypot(x, y)", mp_binary(lambda a, b: mpmath.sqrt(a * a + b * b))),
    "logaddexp": (np.logaddexp, "np.logaddexp(x, y)", mp_binary(mp_logaddexp)),
    "logaddexp2": (np.logaddexp2, "np.logaddexp2(x, y)", mp_binary(mp_logaddexp2)),
    "copysign": (np.copysign, "np.copysign(x, y)", None),
    "heaviside2": (np.heaviside, "np.heaviside(x, y)", None),
    "xlogy": (sp_xlogy, "where((x == 0) & ~isnan(y), 0, x * np.log(y))  (scipy.special.xlogy)", None),
    "xlog1py": (sp_xlog1py, "where((x == 0) & ~isnan(y), 0, x * np.log1p(y))  (scipy.special.xlog1py)", None),
}

BINARY_EXTRA = {
    "xlogy": ([0.0], [0.0, 1.0, 2.0, 0.5, 1e-300]),
    "xlog1py": ([0.0], [0.0, -1.0, 1e-20, -0.5, -1 + 2**-53]),
    "hypot": ([3.0, 1e-310, 1e308], [4.0, 1e-310, 1e308]),
    "logaddexp": ([-1000.0, 1000.0, 1e-20], [-1000.0, 1000.0, -1e-20]),
    "logaddexp2": ([-1100.0, 1100.0, 1e-20], [-1100.0, 1100.0, -1e-20]),
}

DTYPES = {"float64": np.float64, "float32": np.float32}


def main(out_path):
    ops = {}
    for name, (fn, expr, exact) in UNARY.items():
        ops[name] = {"python_expr": expr}
        for dname, dt in DTYPES.items():
            x = unary_inputs(name, dt, UNARY_EXTRA.get(name, []))
            y = fn(x)
            case = {"args": [b64(x)], "out": b64(y, one_nan=True), "out_dtype": str(y.dtype)}
            if exact is not None and dname == "float64":
                vals = [exact(v) for v in x]
                case["exact"] = b64(np.array([math.nan if v is None else v for v in vals], dtype=np.float64))
                case["exact_known"] = b64(np.array([v is not None for v in vals]))
            ops[name][dname] = case
    for name, (fn, expr, exact) in BINARY.items():
        ops[name] = {"python_expr": expr}
        for dname, dt in DTYPES.items():
            xe, ye = BINARY_EXTRA.get(name, ((), ()))
            x, y = binary_inputs(name, dt, xe, ye)
            out = fn(x, y)
            case = {"args": [b64(x), b64(y)], "out": b64(out, one_nan=True), "out_dtype": str(out.dtype)}
            if exact is not None and dname == "float64":
                vals = [exact(a, b) for a, b in zip(x, y)]
                case["exact"] = b64(np.array([math.nan if v is None else v for v in vals], dtype=np.float64))
                case["exact_known"] = b64(np.array([v is not None for v in vals]))
            ops[name][dname] = case
    from numpy.core._multiarray_umath import __cpu_features__ as features

    meta = {
        "format": "numpy-elementwise-v1",
        "numpy_version": np.__version__,
        "mpmath_version": mpmath.__version__,
        "python_version": platform.python_version(),
        "machine": platform.machine(),
        "numpy_cpu_features": sorted(k for k, v in features.items() if v),
        "note": "outputs are numpy's on this machine; exact = mpmath at 300 bits rounded to float64",
    }
    text = json.dumps({"meta": meta, "ops": ops}, sort_keys=True, separators=(",", ":"))
    with open(out_path, "wb") as f:
        # mtime 0: the same data gives the same bytes
        f.write(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))


if __name__ == "__main__":
    main(sys.argv[1])
