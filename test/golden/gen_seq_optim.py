"""seq_optim.json: torch.optim.AdamW with parameter groups (no decay on biases and norm weights) for 5 steps
on a small embedding-layernorm-MLP in float64, and Hugging Face's top-k / top-p logits filters.

Imported by generate.py (which owns the file list, seeds and the writing); see README.md beside it.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from generate import F64, arr, float64_module, seed_of

VOCAB, WIDTH, HIDDEN, BATCH, CONTEXT = 7, 6, 8, 4, 5
STEPS = 5

SMALL_LM_ARCHITECTURE = [
    f"emb = Embedding({VOCAB}, {WIDTH}); ln = LayerNorm({WIDTH}) (eps 1e-5, weight and bias perturbed by 0.1*N(0,1) after init)",
    f"fc1 = Linear({WIDTH}, {HIDDEN}); fc2 = Linear({HIDDEN}, {VOCAB})",
    "forward: tokens [B, T] -> emb -> ln -> fc1 -> tanh -> fc2 -> logits [B, T, V]",
    "loss = cross_entropy(logits.reshape(-1, V), targets.reshape(-1)) (mean over B*T)",
]


class SmallLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, WIDTH)
        self.ln = nn.LayerNorm(WIDTH)
        self.fc1 = nn.Linear(WIDTH, HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, VOCAB)

    def forward(self, tokens):
        return self.fc2(torch.tanh(self.fc1(self.ln(self.emb(tokens)))))


def small_lm_setup(name):
    torch.manual_seed(seed_of(name))
    net = float64_module(SmallLM)
    with torch.no_grad():
        net.ln.weight.add_(0.1 * torch.randn(WIDTH, dtype=F64))
        net.ln.bias.add_(0.1 * torch.randn(WIDTH, dtype=F64))
    tokens = torch.randint(0, VOCAB, (BATCH, CONTEXT))
    targets = torch.randint(0, VOCAB, (BATCH, CONTEXT))
    return net, tokens, targets


def lm_loss(net, tokens, targets):
    return F.cross_entropy(net(tokens).reshape(-1, VOCAB), targets.reshape(-1))


# (name, group options for [decay params, other params], note)
ADAMW_GROUPS = [
    ("adamw_groups", [{"weight_decay": 0.1}, {"weight_decay": 0.0}], dict(lr=1e-2),
     "one lr; weight decay 0.1 on the matrices (dim >= 2: embedding and linear weights), 0 on biases and the LayerNorm"),
    ("adamw_groups_lr", [{"weight_decay": 0.1}, {"weight_decay": 0.0, "lr": 3e-3, "betas": (0.8, 0.99)}], dict(lr=1e-2),
     "the no-decay group also has its own lr and betas"),
]


def adamw_groups_case(name, group_options, defaults, note):
    net, tokens, targets = small_lm_setup(name)
    named = list(net.named_parameters())
    decay = [n for n, p in named if p.dim() >= 2]
    no_decay = [n for n, p in named if p.dim() < 2]
    params = {n: p for n, p in named}
    initial = {n: arr(p) for n, p in named}
    groups = [{"params": [params[n] for n in names], **options} for names, options in zip([decay, no_decay], group_options)]
    opt = torch.optim.AdamW(groups, **defaults)
    for group in opt.param_groups:
        group["foreach"] = False
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        value = lm_loss(net, tokens, targets)
        losses.append(value.item())
        value.backward()
        opt.step()
    with torch.no_grad():
        final = lm_loss(net, tokens, targets)
    plain = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731
    return {
        "name": name,
        "kind": "optimizer_groups",
        "optimizer": "AdamW",
        "note": note,
        "architecture": SMALL_LM_ARCHITECTURE,
        "seed": seed_of(name),
        "param_order": [n for n, _ in named],
        "params": initial,
        "inputs": {"tokens": arr(tokens), "targets": arr(targets)},
        "param_groups": [
            {"names": names, "hyperparameters": {k: plain(v) for k, v in g.items() if k != "params"}}
            for names, g in zip([decay, no_decay], opt.param_groups)
        ],
        "steps": STEPS,
        "step_procedure": "for t in 1..steps: zero_grad(); loss = lm_loss(); losses[t-1] = loss; loss.backward(); opt.step()",
        "losses": arr(torch.tensor(losses, dtype=F64)),
        "final_loss": arr(final),
        "final_params": {n: arr(p) for n, p in net.named_parameters()},
        "final_state_sums": {
            n: {s: float(torch.as_tensor(v).sum()) for s, v in opt.state[p].items() if s != "step"} for n, p in named
        },
    }


def top_k_keep(scores, k):
    """Hugging Face's TopKLogitsWarper (min_tokens_to_keep 1): keeps the logits >= the k-th largest."""
    k = min(max(k, 1), scores.size(-1))
    return ~(scores < torch.topk(scores, k)[0][..., -1, None])


def top_p_keep(scores, p):
    """Hugging Face's TopPLogitsWarper (min_tokens_to_keep 1), over the last axis of any rank."""
    sorted_logits, sorted_indices = torch.sort(scores, descending=False)
    cumulative_probs = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove = cumulative_probs <= (1 - p)
    remove[..., -1:] = 0
    return ~remove.scatter(-1, sorted_indices, remove)


# (name, shape, scale, filter, argument)
LOGITS_FILTERS = [
    ("top_k_1", [3, 10], 2.0, "top_k", 1),
    ("top_k_3", [3, 10], 2.0, "top_k", 3),
    ("top_k_all", [3, 10], 2.0, "top_k", 10),
    ("top_k_batched", [2, 3, 8], 1.0, "top_k", 4),
    ("top_p_0.5", [3, 10], 2.0, "top_p", 0.5),
    ("top_p_0.9", [3, 10], 2.0, "top_p", 0.9),
    ("top_p_0.95", [4, 16], 1.0, "top_p", 0.95),
    ("top_p_batched", [2, 3, 8], 1.0, "top_p", 0.8),
]


def logits_filter_case(name, shape, scale, kind, argument):
    torch.manual_seed(seed_of(name))
    logits = torch.randn(shape, dtype=F64) * scale
    keep = top_k_keep(logits, argument) if kind == "top_k" else top_p_keep(logits, argument)
    return {
        "name": name,
        "kind": "logits_filter",
        "filter": kind,
        "argument": argument,
        "reference": "transformers' TopKLogitsWarper / TopPLogitsWarper (min_tokens_to_keep 1), over the last axis",
        "inputs": {"logits": arr(logits)},
        "outputs": {"keep": arr(keep.to(torch.int64))},
    }


def seq_optim_cases():
    return [adamw_groups_case(*c) for c in ADAMW_GROUPS] + [logits_filter_case(*c) for c in LOGITS_FILTERS]
