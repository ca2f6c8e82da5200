"""Golden cases of linalg_cholesky.json (issue 20): torch.linalg.cholesky (lower and upper),
torch.linalg.solve_triangular (every side/triangle/transpose/unit-diagonal form tracegrad has),
torch.cholesky_solve and the Gaussian-process negative log marginal likelihood of
docs/examples/gp-regression.ts, batched and unbatched, values and vector-Jacobian products, float64.

Imported by generate.py (which writes the file); the helpers are generate.py's, so the seeding and the
case format are the other files' (README.md beside this file).
"""

import math

import torch

from generate import F64, vjp_case


def spd(n, batch=()):
    """M Mᵀ / n + I for M ~ N(0, 1): symmetric positive definite, eigenvalues in about [1, 5]."""
    m = torch.randn((*batch, n, n), dtype=F64)
    return m @ m.mT / n + torch.eye(n, dtype=F64)


def triangular_operand(n, batch=()):
    """A full random matrix whose diagonal is in ±[2, 3] and the rest N(0, 1/n): either triangle is well conditioned."""
    a = torch.randn((*batch, n, n), dtype=F64) / math.sqrt(n)
    diag = (torch.rand((*batch, n), dtype=F64) + 2) * (torch.randint(0, 2, (*batch, n)) * 2 - 1)
    return a - torch.diag_embed(torch.diagonal(a, dim1=-2, dim2=-1)) + torch.diag_embed(diag)


# ---------------------------------------------------------------------------------------------------
# cholesky

CHOLESKY = [
    # name, upper, batch, n
    ("cholesky_1x1", False, (), 1),
    ("cholesky_5x5", False, (), 5),
    ("cholesky_upper_5x5", True, (), 5),
    ("cholesky_batched_2x3_4x4", False, (2, 3), 4),
    ("cholesky_upper_batched_3_6x6", True, (3,), 6),
    ("cholesky_blocked_70x70", False, (), 70),
]


def cholesky_case(spec):
    name, upper, batch, n = spec
    expr = f"torch.linalg.cholesky(a, upper={upper})"
    attrs = {"upper": upper}
    note = "a = M Mᵀ / n + I (symmetric positive definite); torch's gradient is symmetric"
    return vjp_case(
        (name, "cholesky", expr, attrs, note, {"a": (*batch, n, n)}),
        lambda a: {"out": torch.linalg.cholesky(a, upper=upper)},
        lambda shapes: {"a": spd(n, batch)},
        False,
    )


# ---------------------------------------------------------------------------------------------------
# solve_triangular: left side op(a) x = b, right side x op(a) = b; op(a) = a or aᵀ

SOLVE_TRIANGULAR = [
    # name, left, lower, transpose, unit diagonal, batch, n, k
    ("solve_triangular_lower_4x4_4x3", True, True, False, False, (), 4, 3),
    ("solve_triangular_upper_4x4_4x3", True, False, False, False, (), 4, 3),
    ("solve_triangular_lower_transposed_5x5_5x2", True, True, True, False, (), 5, 2),
    ("solve_triangular_upper_transposed_unit_5x5_5x2", True, False, True, True, (), 5, 2),
    ("solve_triangular_lower_unit_batched_2_3x3_3x4", True, True, False, True, (2,), 3, 4),
    ("solve_triangular_right_lower_4x4_3x4", False, True, False, False, (), 4, 3),
    ("solve_triangular_right_upper_transposed_batched_2x2_3x3_2x3", False, False, True, False, (2, 2), 3, 2),
    ("solve_triangular_1x1", True, True, False, False, (), 1, 1),
    ("solve_triangular_blocked_lower_transposed_70x70_70x3", True, True, True, False, (), 70, 3),
]


def solve_triangular_case(spec):
    name, left, lower, transpose, unit, batch, n, k = spec
    # torch has no transpose flag: op(a) = aᵀ is passed as a.mT, whose lower triangle is a's upper one.
    operand = "a.mT" if transpose else "a"
    upper = lower == transpose
    expr = f"torch.linalg.solve_triangular({operand}, b, upper={upper}, left={left}, unitriangular={unit})"
    attrs = {"left_side": left, "lower": lower, "transpose_a": transpose, "unit_diagonal": unit}
    b_shape = (*batch, n, k) if left else (*batch, k, n)

    def outputs_of(a, b):
        op_a = a.mT if transpose else a
        return {"out": torch.linalg.solve_triangular(op_a, b, upper=upper, left=left, unitriangular=unit)}

    def draw(shapes):
        return {"a": triangular_operand(n, batch), "b": torch.randn(b_shape, dtype=F64)}

    note = "a is a full matrix (only the named triangle is read; its gradient is zero elsewhere)"
    return vjp_case((name, "solve_triangular", expr, attrs, note, {"a": (*batch, n, n), "b": b_shape}), outputs_of, draw, False)


# ---------------------------------------------------------------------------------------------------
# cholesky_solve: x = (L Lᵀ)⁻¹ b (scipy's cho_solve((L, True), b))

CHOLESKY_SOLVE = [
    # name, batch, n, k
    ("cholesky_solve_4x4_4x2", (), 4, 2),
    ("cholesky_solve_batched_3_5x5_5x1", (3,), 5, 1),
]


def cholesky_solve_case(spec):
    name, batch, n, k = spec

    def draw(shapes):
        return {"l": torch.linalg.cholesky(spd(n, batch)), "b": torch.randn((*batch, n, k), dtype=F64)}

    note = "l = cholesky(M Mᵀ / n + I), lower triangular; torch's gradient treats l as dense, so its lower triangle is the comparable part"
    return vjp_case(
        (name, "cholesky_solve", "torch.cholesky_solve(b, l, upper=False)", {"upper": False}, note,
         {"l": (*batch, n, n), "b": (*batch, n, k)}),
        lambda l, b: {"out": torch.cholesky_solve(b, l, upper=False)},
        draw,
        False,
    )


# ---------------------------------------------------------------------------------------------------
# Gaussian-process regression (docs/examples/gp-regression.ts): the negative log marginal likelihood


def gp_nll(x, y, log_params):
    """0.5 yᵀ K⁻¹ y + Σ log diag(L) + n/2 log 2π, K = s² exp(-(x - x')² / (2 l²)) + σ² I, L = cholesky(K)."""
    log_length, log_signal, log_noise = log_params[0], log_params[1], log_params[2]
    d = x[:, None] - x[None, :]
    k = torch.exp(2 * log_signal) * torch.exp(-0.5 * d * d / torch.exp(2 * log_length))
    k = k + torch.exp(2 * log_noise) * torch.eye(x.shape[0], dtype=F64)
    l = torch.linalg.cholesky(k)
    alpha = torch.cholesky_solve(y[:, None], l)[:, 0]
    n = x.shape[0]
    return 0.5 * (y @ alpha) + torch.log(torch.diagonal(l)).sum() + 0.5 * n * math.log(2 * math.pi)


def gp_case():
    n = 24

    def draw(shapes):
        x = torch.sort(torch.rand(n, dtype=F64) * 10 - 5).values
        y = torch.sin(x) + 0.3 * torch.cos(3 * x) + 0.1 * torch.randn(n, dtype=F64)
        log_params = torch.tensor([0.3, 0.1, -1.5], dtype=F64) + 0.2 * torch.randn(3, dtype=F64)
        return {"x": x, "y": y, "log_params": log_params}

    note = "log_params = [log lengthscale, log signal std, log noise std]; the loss the GP example minimises"
    return vjp_case(
        ("gp_negative_log_marginal_likelihood", "gp_nll", "gp_nll(x, y, log_params)", {}, note,
         {"x": (n,), "y": (n,), "log_params": (3,)}),
        lambda x, y, log_params: {"nll": gp_nll(x, y, log_params)},
        draw,
        True,
    )


def cases():
    return (
        [cholesky_case(s) for s in CHOLESKY]
        + [solve_triangular_case(s) for s in SOLVE_TRIANGULAR]
        + [cholesky_solve_case(s) for s in CHOLESKY_SOLVE]
        + [gp_case()]
    )


FILE = (
    "linalg_cholesky.json",
    "torch.linalg.cholesky (lower/upper), solve_triangular (side, triangle, transpose, unit diagonal), cholesky_solve, the GP example's negative log marginal likelihood; batched and unbatched (random cotangent; cotangent 1 for the GP loss)",
    cases,
)
