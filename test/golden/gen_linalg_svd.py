"""Golden cases of linalg_svd.json (issue 20): torch.linalg.svd (full and reduced; tall, square, wide),
svdvals, pinv, lstsq, matrix_rank, cond and norm (vector and matrix orders, dims, keepdim), batched and
unbatched, values and vector-Jacobian products, float64.

Imported by generate.py (which writes the file); the helpers are generate.py's, so the seeding and the
case format are the other files' (README.md beside this file), plus a "values" kind: a "vjp" case
without cotangent and grads, for what has no derivative (full U/Vh of a non-square matrix, ranks).

Singular vectors are sign-normalised as tracegrad's: each column of U has its largest-magnitude
component positive, the matching row of Vh flipped with it (extra rows of a full Vh: their own largest
component positive). The sign is a constant factor, so the vjp of the normalised factors is the
derivative of a well-defined function wherever the singular values are distinct.
"""

import math

import torch

from generate import F64, values_case, vjp_case

INF = math.inf


def normalise_signs(u, vh):
    """U's columns with their largest |component| positive, Vh's matching rows flipped alike."""
    m, n = u.shape[-2], vh.shape[-1]
    k = min(m, n)
    idx = u.detach().abs().argmax(dim=-2, keepdim=True)
    sign_u = torch.sign(torch.gather(u.detach(), -2, idx))  # [..., 1, ucols]
    u = u * sign_u
    rows = torch.ones(vh.shape[:-1], dtype=F64)  # [..., vrows]
    rows[..., :k] = sign_u[..., 0, :k]
    if vh.shape[-2] > k:
        extra = vh.detach()[..., k:, :]
        idx_v = extra.abs().argmax(dim=-1, keepdim=True)
        rows[..., k:] = torch.sign(torch.gather(extra, -1, idx_v))[..., 0]
    return u, vh * rows[..., None]


def svd_normalised(a, full_matrices):
    u, s, vh = torch.linalg.svd(a, full_matrices=full_matrices)
    u, vh = normalise_signs(u, vh)
    return {"u": u, "s": s, "vh": vh}


def normal(shapes):
    return {k: torch.randn(s, dtype=F64) for k, s in shapes.items()}


def low_rank(rank):
    """a = B C with inner size `rank`: exactly rank-deficient (singular values below rank are ~1e-16)."""

    def draw(shapes):
        *batch, m, n = shapes["a"]
        b = torch.randn((*batch, m, rank), dtype=F64)
        c = torch.randn((*batch, rank, n), dtype=F64)
        out = {"a": b @ c}
        for k, s in shapes.items():
            if k != "a":
                out[k] = torch.randn(s, dtype=F64)
        return out

    return draw


def json_ord(p):
    """An order as JSON: numbers, "fro"/"nuc", "inf"/"-inf" (JSON has no infinities), null."""
    if p == INF:
        return "inf"
    if p == -INF:
        return "-inf"
    return p


# ---------------------------------------------------------------------------------------------------
# svd and svdvals

SVD = [
    # name, batch, m, n, full_matrices, with vjp
    ("svd_reduced_tall_5x3", (), 5, 3, False, True),
    ("svd_reduced_square_4x4", (), 4, 4, False, True),
    ("svd_reduced_wide_3x6", (), 3, 6, False, True),
    ("svd_reduced_1x1", (), 1, 1, False, True),
    ("svd_reduced_batched_2x3_4x2", (2, 3), 4, 2, False, True),
    ("svd_reduced_batched_2_3x5", (2,), 3, 5, False, True),
    ("svd_full_square_3x3", (), 3, 3, True, True),
    ("svd_full_tall_6x3", (), 6, 3, True, False),
    ("svd_full_wide_2x5", (), 2, 5, True, False),
    ("svd_full_batched_2_5x4", (2,), 5, 4, True, False),
    ("svd_reduced_40x30", (), 40, 30, False, True),
    # Large enough for the blocked kernel (two panels of 32, then unblocked; reflector products blocked).
    ("svd_reduced_blocked_110x100", (), 110, 100, False, False),
]


def svd_case(spec):
    name, batch, m, n, full, with_vjp = spec
    expr = f"torch.linalg.svd(a, full_matrices={full}), signs normalised"
    attrs = {"full_matrices": full}
    note = "signs: the largest |component| of each column of U positive, Vh's matching row flipped alike"
    case_spec = (name, "svd", expr, attrs, note, {"a": (*batch, m, n)})
    fn = lambda a: svd_normalised(a, full)  # noqa: E731
    return vjp_case(case_spec, fn, normal, False) if with_vjp else values_case(case_spec, fn, normal)


SVDVALS = [
    ("svdvals_tall_6x4", (), 6, 4),
    ("svdvals_wide_3x5", (), 3, 5),
    ("svdvals_batched_3_4x4", (3,), 4, 4),
    ("svdvals_blocked_wide_100x130", (), 100, 130),
]


def svdvals_case(spec):
    name, batch, m, n = spec
    return vjp_case(
        (name, "svdvals", "torch.linalg.svdvals(a)", {}, None, {"a": (*batch, m, n)}),
        lambda a: {"out": torch.linalg.svdvals(a)},
        normal,
        False,
    )


# ---------------------------------------------------------------------------------------------------
# pinv, lstsq, matrix_rank

PINV = [
    # name, batch, m, n, rank (None: full), rcond
    ("pinv_tall_5x3", (), 5, 3, None, 1e-15),
    ("pinv_square_4x4", (), 4, 4, None, 1e-15),
    ("pinv_wide_2x5", (), 2, 5, None, 1e-15),
    ("pinv_batched_2x2_4x3", (2, 2), 4, 3, None, 1e-15),
    ("pinv_rank2_5x4", (), 5, 4, 2, 1e-10),
]


def pinv_case(spec):
    name, batch, m, n, rank, rcond = spec
    expr = f"torch.linalg.pinv(a, rtol={rcond})"
    attrs = {"rcond": rcond}
    fn = lambda a: {"out": torch.linalg.pinv(a, rtol=rcond)}  # noqa: E731
    shapes = {"a": (*batch, m, n)}
    if rank is None:
        return vjp_case((name, "pinv", expr, attrs, None, shapes), fn, normal, False)
    note = f"a = B C of rank {rank}: the cutoff drops the zero singular values (values only: no derivative there)"
    return values_case((name, "pinv", expr, attrs, note, shapes), fn, low_rank(rank))


LSTSQ = [
    # name, m, n, k (None: b is 1-D), rank (None: full)
    ("lstsq_tall_6x3_b2d", 6, 3, 2, None),
    ("lstsq_tall_5x2_b1d", 5, 2, None, None),
    ("lstsq_square_4x4", 4, 4, 3, None),
    ("lstsq_wide_3x5", 3, 5, 2, None),
    ("lstsq_rank2_6x4", 6, 4, 2, 2),
]


def lstsq_outputs(a, b):
    """torch.linalg.lstsq (gelsd, numpy's LAPACK driver) with numpy's residual rule; residual sums by formula (differentiable)."""
    b2 = b[:, None] if b.ndim == 1 else b
    result = torch.linalg.lstsq(a, b2, driver="gelsd")
    x = result.solution
    m, n = a.shape
    if m > n and int(result.rank) == n:
        residuals = ((b2 - a @ x) ** 2).sum(dim=0)
    else:
        residuals = x.flatten()[:0]  # empty, and attached to the graph as vjp_case needs
    if b.ndim == 1:
        x = x[:, 0]
    # lstsq's singular values have no derivative in torch: svdvals gives the same, differentiable.
    return {"x": x, "residuals": residuals, "rank": result.rank.to(torch.int64), "s": torch.linalg.svdvals(a)}


def lstsq_case(spec):
    name, m, n, k, rank = spec
    expr = "torch.linalg.lstsq(a, b, driver='gelsd'), residuals as numpy returns them"
    attrs = {"rcond": None}
    shapes = {"a": (m, n), "b": (m,) if k is None else (m, k)}
    note = "residuals: sum((b - a x)**2, 0) when m > n and rank == n, else empty (numpy's rule)"
    if rank is None:
        return vjp_case((name, "lstsq", expr, attrs, note, shapes), lstsq_outputs, normal, False)
    return values_case((name, "lstsq", expr, attrs, note, shapes), lstsq_outputs, low_rank(rank))


MATRIX_RANK = [
    # name, batch, m, n, rank (None: full), tol
    ("matrix_rank_full_5x3", (), 5, 3, None, None),
    ("matrix_rank_deficient_6x5", (), 6, 5, 3, None),
    ("matrix_rank_batched_deficient_2_4x6", (2,), 4, 6, 2, None),
    ("matrix_rank_tol_4x4", (), 4, 4, None, 0.5),
]


def matrix_rank_case(spec):
    name, batch, m, n, rank, tol = spec
    expr = "torch.linalg.matrix_rank(a)" if tol is None else f"torch.linalg.matrix_rank(a, atol={tol}, rtol=0)"
    attrs = {"tol": tol}
    fn = lambda a: {"out": torch.linalg.matrix_rank(a) if tol is None else torch.linalg.matrix_rank(a, atol=tol, rtol=0)}  # noqa: E731
    draw = normal if rank is None else low_rank(rank)
    return values_case((name, "matrix_rank", expr, attrs, None, {"a": (*batch, m, n)}), fn, draw)


# ---------------------------------------------------------------------------------------------------
# cond and norm

COND = [
    # name, batch, m, n, p
    ("cond_none_4x4", (), 4, 4, None),
    ("cond_2_tall_5x3", (), 5, 3, 2),
    ("cond_minus2_wide_3x4", (), 3, 4, -2),
    ("cond_fro_4x4", (), 4, 4, "fro"),
    ("cond_nuc_3x3", (), 3, 3, "nuc"),
    ("cond_1_4x4", (), 4, 4, 1),
    ("cond_minus1_4x4", (), 4, 4, -1),
    ("cond_inf_batched_2_3x3", (2,), 3, 3, INF),
    ("cond_minus_inf_3x3", (), 3, 3, -INF),
    ("cond_none_batched_2x2_3x3", (2, 2), 3, 3, None),
]


def cond_by_norms(a, p):
    """torch.linalg.cond's definition for p other than None/2/-2, written out: torch 1.13's own backward
    for those fails (an in-place write into inv's output); the value is checked against it."""
    dims = (-2, -1)
    value = torch.linalg.norm(a, p, dim=dims) * torch.linalg.norm(torch.linalg.inv(a), p, dim=dims)
    with torch.no_grad():
        reference = torch.linalg.cond(a, p)
        assert torch.allclose(value, reference, rtol=1e-12, atol=0), (value, reference)
    return value


def cond_case(spec):
    name, batch, m, n, p = spec
    by_svd = p is None or p in (2, -2)
    expr = f"torch.linalg.cond(a, p={p!r})" if by_svd else f"norm(a, {p!r}) * norm(inv(a), {p!r}), = torch.linalg.cond(a, p={p!r})"
    return vjp_case(
        (name, "cond", expr, {"p": json_ord(p)}, None, {"a": (*batch, m, n)}),
        lambda a: {"out": torch.linalg.cond(a, p) if by_svd else cond_by_norms(a, p)},
        normal,
        False,
    )


NORM = [
    # name, shape, ord, dim, keepdim
    ("norm_default_3d", (2, 3, 4), None, None, False),
    ("norm_default_keepdim_2d", (3, 4), None, None, True),
    ("norm_vector_2", (7,), 2, None, False),
    ("norm_vector_1", (7,), 1, None, False),
    ("norm_vector_inf", (7,), INF, None, False),
    ("norm_vector_minus_inf", (7,), -INF, None, False),
    ("norm_vector_0", (7,), 0, None, False),
    ("norm_vector_3", (7,), 3, None, False),
    ("norm_vector_half", (7,), 0.5, None, False),
    ("norm_vector_minus1", (7,), -1, None, False),
    ("norm_vector_minus2_dim0_keepdim", (4, 3), -2, 0, True),
    ("norm_vector_2_dim_last", (2, 3, 5), None, -1, False),
    ("norm_vector_1_dim1_keepdim", (2, 3, 5), 1, 1, True),
    ("norm_matrix_fro", (3, 5), "fro", None, False),
    ("norm_matrix_nuc", (4, 3), "nuc", None, False),
    ("norm_matrix_1", (3, 5), 1, None, False),
    ("norm_matrix_minus1", (3, 5), -1, None, False),
    ("norm_matrix_2", (5, 3), 2, None, False),
    ("norm_matrix_minus2", (3, 5), -2, None, False),
    ("norm_matrix_inf", (4, 3), INF, None, False),
    ("norm_matrix_minus_inf", (4, 3), -INF, None, False),
    ("norm_matrix_fro_dims_0_2", (3, 2, 4), "fro", (0, 2), False),
    ("norm_matrix_2_dims_2_0_keepdim", (3, 2, 4), 2, (2, 0), True),
    ("norm_matrix_nuc_batched", (2, 3, 4), "nuc", (-2, -1), False),
    ("norm_matrix_1_dims_2_1", (2, 3, 4), 1, (2, 1), False),
    ("norm_matrix_inf_dims_0_1_keepdim", (3, 4, 2), INF, (0, 1), True),
    ("norm_matrix_minus2_batched", (2, 4, 3), -2, (-2, -1), False),
]


def norm_case(spec):
    name, shape, p, dim, keepdim = spec
    expr = f"torch.linalg.norm(x, ord={p!r}, dim={dim!r}, keepdim={keepdim})"
    attrs = {"ord": json_ord(p), "dim": None if dim is None else (dim if isinstance(dim, int) else list(dim)), "keepdim": keepdim}
    note = "random N(0, 1) elements: no ties for the max/min orders, no zeros"
    case_spec = (name, "norm", expr, attrs, note, {"x": shape})
    fn = lambda x: {"out": torch.linalg.norm(x, ord=p, dim=dim, keepdim=keepdim)}  # noqa: E731
    # ord 0 counts nonzeros: piecewise constant, no graph in torch (values only).
    return values_case(case_spec, fn, normal) if p == 0 else vjp_case(case_spec, fn, normal, False)


def cases():
    return (
        [svd_case(s) for s in SVD]
        + [svdvals_case(s) for s in SVDVALS]
        + [pinv_case(s) for s in PINV]
        + [lstsq_case(s) for s in LSTSQ]
        + [matrix_rank_case(s) for s in MATRIX_RANK]
        + [cond_case(s) for s in COND]
        + [norm_case(s) for s in NORM]
    )


FILE = (
    "linalg_svd.json",
    "torch.linalg svd (full/reduced, sign-normalised; tall, square, wide), svdvals, pinv, lstsq (numpy's residual rule), matrix_rank, cond (every p), norm (vector and matrix orders, dims, keepdim); batched and unbatched (random cotangent; values only where there is no derivative)",
    cases,
)
