"""Golden cases of linalg_lu.json (issue 20): torch.linalg.lu_factor, lu, lu_solve, solve, inv, det, slogdet,
matrix_power, cross, multi_dot, and trace/diagonal of the last two axes (torch.diagonal), batched and unbatched,
values and vector-Jacobian products, float64.

Imported by generate.py (which writes the file); the helpers are generate.py's, so the seeding and the case
format are the other files' (README.md beside this file).

LU inputs are N(0, 1) matrices redrawn until they are well conditioned (condition number at most COND_MAX)
and partial pivoting is unambiguous: at every step of a plain column-by-column elimination the largest
candidate pivot magnitude exceeds the second largest by PIVOT_GAP relative, so a factorization that rounds
differently still picks torch's (LAPACK getrf's) pivots. Pivots are stored zero-based (torch's are 1-based).
"""

import torch

from generate import F64, vjp_case

COND_MAX = 200.0
PIVOT_GAP = 1e-3


def pivot_gap(a):
    """The smallest relative gap between the two largest candidate pivots over an elimination of `a` (2-D)."""
    x = a.clone()
    m, n = x.shape
    gap = 1.0
    for j in range(min(m, n)):
        magnitudes = x[j:, j].abs()
        if magnitudes.numel() > 1:
            top = torch.topk(magnitudes, 2).values
            gap = min(gap, ((top[0] - top[1]) / top[0]).item())
        p = j + int(torch.argmax(magnitudes).item())
        x[[j, p]] = x[[p, j]]
        x[j + 1 :, j] /= x[j, j]
        x[j + 1 :, j + 1 :] -= torch.outer(x[j + 1 :, j], x[j, j + 1 :])
    return gap


def well_pivoted(shape):
    """N(0, 1) matrices [..., m, n], each well conditioned with unambiguous pivots (redrawn together)."""
    while True:
        a = torch.randn(shape, dtype=F64)
        flat = a.reshape(-1, shape[-2], shape[-1])
        s = torch.linalg.svdvals(flat)
        if (s[:, 0] / s[:, -1]).max().item() <= COND_MAX and all(pivot_gap(x) >= PIVOT_GAP for x in flat):
            return a


def normal(shape):
    return torch.randn(shape, dtype=F64)


# ---------------------------------------------------------------------------------------------------
# the factorization: lu_factor (packed factors, pivots) and lu (P, L, U)

FACTOR = [
    # name, batch, m, n
    ("lu_factor_1x1", (), 1, 1),
    ("lu_factor_5x5", (), 5, 5),
    ("lu_factor_tall_6x4", (), 6, 4),
    ("lu_factor_wide_3x5", (), 3, 5),
    ("lu_factor_batched_2x3_4x4", (2, 3), 4, 4),
    ("lu_factor_blocked_130x130", (), 130, 130),
]


def lu_factor_case(spec):
    name, batch, m, n = spec

    def outputs_of(a):
        lu, pivots = torch.linalg.lu_factor(a)
        return {"lu": lu, "pivots": (pivots - 1).to(torch.int64)}

    return vjp_case(
        (name, "lu_factor", "torch.linalg.lu_factor(a); pivots - 1", {}, None, {"a": (*batch, m, n)}),
        outputs_of,
        lambda shapes: {"a": well_pivoted(shapes["a"])},
        False,
    )


LU = [
    ("lu_4x4", (), 4, 4),
    ("lu_tall_5x3", (), 5, 3),
    ("lu_wide_3x6", (), 3, 6),
    ("lu_batched_2_5x5", (2,), 5, 5),
]


def lu_case(spec):
    name, batch, m, n = spec

    def outputs_of(a):
        p, l, u = torch.linalg.lu(a)
        # The permutation of lax.linalg.lu: a[perm] = L U, i.e. P = eye[:, perm] (row i of Pᵀ is eye[perm[i]]).
        perm = torch.argmax(p.mT, dim=-1)
        return {"l": l, "u": u, "permutation": perm.to(torch.int64)}

    return vjp_case(
        (name, "lu", "torch.linalg.lu(a) -> P, L, U; permutation = argmax(Pᵀ, -1)", {}, None, {"a": (*batch, m, n)}),
        outputs_of,
        lambda shapes: {"a": well_pivoted(shapes["a"])},
        False,
    )


# ---------------------------------------------------------------------------------------------------
# solving: lu_solve (from lu_factor's factors), solve, inv

LU_SOLVE = [
    # name, batch, n, b shape, adjoint
    ("lu_solve_4x4_vector", (), 4, (4,), False),
    ("lu_solve_4x4_matrix", (), 4, (4, 3), False),
    ("lu_solve_transposed_5x5", (), 5, (5, 2), True),
    ("lu_solve_batched_2_3x3", (2,), 3, (2, 3, 2), False),
]


def lu_solve_case(spec):
    name, batch, n, b_shape, adjoint = spec

    def draw(shapes):
        a = well_pivoted(shapes["a"])
        lu, pivots = torch.linalg.lu_factor(a)
        return {"lu": lu, "piv": (pivots - 1).to(torch.int64), "b": normal(shapes["b"])}

    def outputs_of(lu, piv, b):
        vector = b.dim() == 1
        rhs = b[:, None] if vector else b
        x = torch.linalg.lu_solve(lu, (piv + 1).to(torch.int32), rhs, adjoint=adjoint)
        return {"out": x[:, 0] if vector else x}

    expr = f"torch.linalg.lu_solve(lu, piv + 1, b, adjoint={adjoint}) (b[:, None] for a vector)"
    return vjp_case(
        (name, "lu_solve", expr, {"trans": 1 if adjoint else 0}, "lu, piv = lu_factor(a) of a well-pivoted a", {"a": (*batch, n, n), "b": b_shape}),
        outputs_of,
        draw,
        False,
    )


SOLVE = [
    # name, a shape, b shape
    ("solve_1x1", (1, 1), (1,)),
    ("solve_5x5_vector", (5, 5), (5,)),
    ("solve_5x5_matrix", (5, 5), (5, 3)),
    ("solve_batched_vector", (3, 4, 4), (4,)),
    ("solve_broadcast_b", (2, 1, 3, 3), (4, 3, 2)),
]


def solve_case(spec):
    name, a_shape, b_shape = spec

    def outputs_of(a, b):
        # torch takes a b of shape [..., n] as a batch of vectors; numpy 2 and tracegrad only a 1-D b.
        if b.dim() == 1:
            return {"out": torch.linalg.solve(a, b[..., None].expand(*a.shape[:-1], 1))[..., 0]}
        return {"out": torch.linalg.solve(a, b)}

    return vjp_case(
        (name, "solve", "torch.linalg.solve(a, b) (a 1-D b as one column)", {}, None, {"a": a_shape, "b": b_shape}),
        outputs_of,
        lambda shapes: {"a": well_pivoted(shapes["a"]), "b": normal(shapes["b"])},
        False,
    )


INV = [("inv_1x1", (1, 1)), ("inv_4x4", (4, 4)), ("inv_batched_2x2_3x3", (2, 2, 3, 3))]


def inv_case(spec):
    name, shape = spec
    return vjp_case(
        (name, "inv", "torch.linalg.inv(a)", {}, None, {"a": shape}),
        lambda a: {"out": torch.linalg.inv(a)},
        lambda shapes: {"a": well_pivoted(shapes["a"])},
        False,
    )


# ---------------------------------------------------------------------------------------------------
# determinants

DET = [("det_1x1", (1, 1)), ("det_2x2", (2, 2)), ("det_5x5", (5, 5)), ("det_batched_3_4x4", (3, 4, 4))]


def det_case(spec):
    name, shape = spec
    return vjp_case(
        (name, "det", "torch.linalg.det(a)", {}, None, {"a": shape}),
        lambda a: {"out": torch.linalg.det(a)},
        lambda shapes: {"a": well_pivoted(shapes["a"])},
        False,
    )


SLOGDET = [("slogdet_3x3", (3, 3)), ("slogdet_6x6", (6, 6)), ("slogdet_batched_2x2_4x4", (2, 2, 4, 4))]


def slogdet_case(spec):
    name, shape = spec

    return vjp_case(
        (name, "slogdet", "torch.linalg.slogdet(a)", {}, "sign (piecewise constant, no cotangent) is an intermediate", {"a": shape}),
        lambda a: {"logabsdet": torch.linalg.slogdet(a)[1]},
        lambda shapes: {"a": well_pivoted(shapes["a"])},
        False,
        intermediates_of=lambda a: {"sign": torch.linalg.slogdet(a)[0]},
    )


# ---------------------------------------------------------------------------------------------------
# matrix_power, trace and diagonal, cross, multi_dot

MATRIX_POWER = [
    # name, shape, n
    ("matrix_power_1", (3, 3), 1),
    ("matrix_power_3", (4, 4), 3),
    ("matrix_power_6", (3, 3), 6),
    ("matrix_power_11_batched", (2, 3, 3), 11),
    ("matrix_power_-1", (3, 3), -1),
    ("matrix_power_-3", (2, 4, 4), -3),
]


def matrix_power_case(spec):
    name, shape, n = spec
    # Spectral radius about 1, so high powers stay of order one.
    draw = (lambda shapes: {"a": well_pivoted(shapes["a"]) / shapes["a"][-1] ** 0.5}) if n < 0 else (lambda shapes: {"a": normal(shapes["a"]) / (2 * shapes["a"][-1] ** 0.5)})
    return vjp_case(
        (name, "matrix_power", f"torch.linalg.matrix_power(a, {n})", {"n": n}, None, {"a": shape}),
        lambda a: {"out": torch.linalg.matrix_power(a, n)},
        draw,
        False,
    )


DIAGONAL = [
    # name, op, shape, offset
    ("linalg_diagonal_4x4", "diagonal", (4, 4), 0),
    ("linalg_diagonal_batched_offset_1", "diagonal", (2, 3, 5), 1),
    ("linalg_diagonal_offset_-2", "diagonal", (5, 3), -2),
    ("linalg_trace_4x4", "trace", (4, 4), 0),
    ("linalg_trace_batched_offset_-1", "trace", (3, 4, 4), -1),
    ("linalg_trace_offset_2", "trace", (3, 5), 2),
]


def diagonal_case(spec):
    name, op, shape, offset = spec
    if op == "diagonal":
        fn = lambda x: torch.diagonal(x, offset=offset, dim1=-2, dim2=-1)  # noqa: E731
        expr = f"torch.diagonal(x, offset={offset}, dim1=-2, dim2=-1)"
    else:
        fn = lambda x: torch.diagonal(x, offset=offset, dim1=-2, dim2=-1).sum(-1)  # noqa: E731
        expr = f"torch.diagonal(x, offset={offset}, dim1=-2, dim2=-1).sum(-1)"
    return vjp_case(
        (name, f"linalg_{op}", expr, {"offset": offset}, None, {"x": shape}),
        lambda x: {"out": fn(x)},
        lambda shapes: {"x": normal(shapes["x"])},
        False,
    )


CROSS = [
    # name, x1 shape, x2 shape, axis
    ("cross_3", (3,), (3,), -1),
    ("cross_batched", (4, 3), (4, 3), -1),
    ("cross_broadcast", (2, 1, 3), (5, 3), -1),
    ("cross_axis_0", (3, 4), (3, 4), 0),
]


def cross_case(spec):
    name, s1, s2, axis = spec
    return vjp_case(
        (name, "cross", f"torch.linalg.cross(x1, x2, dim={axis})", {"axis": axis}, None, {"x1": s1, "x2": s2}),
        lambda x1, x2: {"out": torch.linalg.cross(*torch.broadcast_tensors(x1, x2), dim=axis)},
        lambda shapes: {k: normal(s) for k, s in shapes.items()},
        False,
    )


MULTI_DOT = [
    # name, shapes of x0, x1, ...
    ("multi_dot_3", [(2, 6), (6, 3), (3, 5)]),
    ("multi_dot_3_other_order", [(6, 2), (2, 5), (5, 4)]),
    ("multi_dot_4_vector_ends", [(5,), (5, 2), (2, 7), (7,)]),
    ("multi_dot_5", [(3, 8), (8, 2), (2, 9), (9, 4), (4, 6)]),
    ("multi_dot_2_vectors", [(4,), (4,)]),
]


def multi_dot_case(spec):
    name, shapes = spec
    names = [f"x{i}" for i in range(len(shapes))]
    return vjp_case(
        (name, "multi_dot", "torch.linalg.multi_dot([x0, x1, ...])", {}, None, dict(zip(names, shapes))),
        lambda **xs: {"out": torch.linalg.multi_dot([xs[k] for k in names])},
        lambda shapes: {k: normal(s) for k, s in shapes.items()},
        False,
    )


def cases():
    return (
        [lu_factor_case(s) for s in FACTOR]
        + [lu_case(s) for s in LU]
        + [lu_solve_case(s) for s in LU_SOLVE]
        + [solve_case(s) for s in SOLVE]
        + [inv_case(s) for s in INV]
        + [det_case(s) for s in DET]
        + [slogdet_case(s) for s in SLOGDET]
        + [matrix_power_case(s) for s in MATRIX_POWER]
        + [diagonal_case(s) for s in DIAGONAL]
        + [cross_case(s) for s in CROSS]
        + [multi_dot_case(s) for s in MULTI_DOT]
    )


FILE = (
    "linalg_lu.json",
    "torch.linalg.lu_factor, lu, lu_solve, solve, inv, det, slogdet, matrix_power, cross, multi_dot, and trace/diagonal over the last two axes (torch.diagonal); well-conditioned inputs with unambiguous pivots, batched and unbatched (random cotangent)",
    cases,
)
