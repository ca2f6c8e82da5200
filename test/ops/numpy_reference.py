"""Regenerates numpy-reference.json (numpy 1.24): /usr/bin/python3 test/ops/numpy_reference.py.

The values numpy-semantics.test.ts compares against: float and int floor_divide and mod (npy_divmod),
and int32 power with wraparound. JSON has no NaN/Inf/-0, so they are written as strings.
"""
import json, math, os, warnings
import numpy as np
warnings.simplefilter("ignore")

def enc(v):
    v = float(v)
    if math.isnan(v): return "nan"
    if math.isinf(v): return "inf" if v > 0 else "-inf"
    if v == 0 and math.copysign(1, v) < 0: return "-0"
    return v

xs = [4, -3, 3, -3, 3, -3, math.inf, -math.inf, math.nan, 1, 0, 0, -1, 1, 0, -0.0, 5, -5, 5, -5, 7.5, -7.5, 1e300, 1e-300, 0.1, 1, 3, -2, 2.5, 1e30, 6, -6]
ys = [0.4, -0.3, -math.inf, math.inf, math.inf, -math.inf, 3, 3, 2, 0, 0, -1, 0, -0.0, 5, 5, 3, 3, -3, -3, 2, 2, 1e-300, 1e300, 0.01, 0.1, 0.7, 0.7, -0.5, 0.5, 2, -2]
assert len(xs) == len(ys)
out = {"numpy": np.__version__, "float": {"x": [enc(v) for v in xs], "y": [enc(v) for v in ys]}}
for dt in ["float32", "float64"]:
    a = np.array(xs, dtype=dt); b = np.array(ys, dtype=dt)
    out["float"][dt] = {"floorDivide": [enc(v) for v in np.floor_divide(a, b)], "mod": [enc(v) for v in np.mod(a, b)]}

ix = [7, -7, 7, -7, 0, 5, -5, 0, -2147483648, -2147483648, 2147483647, 1, -1, 3]
iy = [2, 2, -2, -2, 3, 0, 0, 0, -1, 1, -1, 2147483647, 2147483647, -2147483648]
a = np.array(ix, dtype=np.int32); b = np.array(iy, dtype=np.int32)
out["int"] = {"x": ix, "y": iy, "floorDivide": [int(v) for v in np.floor_divide(a, b)], "mod": [int(v) for v in np.mod(a, b)]}

px = [7, 3, 5, 2, 2, 3, -3, 10, 0, 0, 1, -1, -1, 2, -2, 46341, 5, 7, 12345, -12345]
py = [9, 15, 10, 31, 32, 21, 21, 10, 0, 5, 1000000, 7, 8, 0, 63, 2, 13, 23, 5, 6]
a = np.array(px, dtype=np.int32); b = np.array(py, dtype=np.int32)
out["power"] = {"x": px, "y": py, "int32": [int(v) for v in np.power(a, b)]}
# Random cases: magnitudes from 1e-3 to 1e3, both signs, divisors that are near-multiples of the dividends.
rng = np.random.default_rng(15)
n = 300
mag = lambda: 10.0 ** rng.uniform(-3, 3, n) * rng.choice([-1.0, 1.0], n)
rx = mag()
ry = np.where(rng.random(n) < 0.3, rx / rng.integers(1, 50, n) * (1 + rng.normal(0, 1e-7, n)), mag())
out["random"] = {"x": [float(v) for v in rx], "y": [float(v) for v in ry]}
for dt in ["float32", "float64"]:
    a = rx.astype(dt); b = ry.astype(dt)
    out["random"][dt] = {"floorDivide": [enc(v) for v in np.floor_divide(a, b)], "mod": [enc(v) for v in np.mod(a, b)]}
ia = rng.integers(-2**31, 2**31, n, dtype=np.int64).astype(np.int32)
ib = np.where(rng.random(n) < 0.5, rng.integers(-20, 21, n), rng.integers(-2**31, 2**31, n, dtype=np.int64)).astype(np.int32)
pb = rng.integers(-50, 51, n).astype(np.int32)
pe = rng.integers(0, 40, n).astype(np.int32)
out["randomInt"] = {
    "x": [int(v) for v in ia], "y": [int(v) for v in ib],
    "floorDivide": [int(v) for v in np.floor_divide(ia, ib)], "mod": [int(v) for v in np.mod(ia, ib)],
    "base": [int(v) for v in pb], "exponent": [int(v) for v in pe], "power": [int(v) for v in np.power(pb, pe)],
}
json.dump(out, open(os.path.join(os.path.dirname(__file__), "numpy-reference.json"), "w"))
