"""Recurrent layers for generate.py: nn.LSTM, nn.GRU and nn.RNN in float64, forward and every gradient.

Each case builds the module under torch.manual_seed(seed_of(name)) (so its parameters are PyTorch's own
default init, U(-1/sqrt(hidden), 1/sqrt(hidden)), drawn in float64), then draws the input, the initial
carries (when the case gives them) and one N(0, 1) cotangent per output, in that order.
"""

import torch
import torch.nn as nn

FILE = "seq_rnn.json"
DESCRIPTION = (
    "nn.LSTM (2 layers, bidirectional, batch_first both ways), nn.GRU (2 layers), nn.RNN (tanh, relu): "
    "outputs, final carries, grads of every parameter, the input and the initial carries"
)

# name, module class, constructor arguments, input shape, whether the initial carries are given
CASES = [
    ("lstm_2layer_bidirectional", nn.LSTM, dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True), (6, 4, 3), True),
    ("lstm_2layer_bidirectional_batch_first", nn.LSTM,
     dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True, batch_first=True), (4, 6, 3), True),
    ("lstm_1layer_no_carry", nn.LSTM, dict(input_size=4, hidden_size=3), (5, 2, 4), False),
    ("lstm_unbatched_no_bias", nn.LSTM, dict(input_size=3, hidden_size=4, bias=False), (5, 3), True),
    ("gru_2layer", nn.GRU, dict(input_size=3, hidden_size=5, num_layers=2), (6, 4, 3), True),
    ("gru_bidirectional_batch_first", nn.GRU, dict(input_size=4, hidden_size=3, bidirectional=True, batch_first=True),
     (2, 5, 4), False),
    ("rnn_tanh_2layer", nn.RNN, dict(input_size=3, hidden_size=5, num_layers=2), (6, 4, 3), True),
    ("rnn_relu_bidirectional", nn.RNN, dict(input_size=3, hidden_size=4, nonlinearity="relu", bidirectional=True),
     (5, 3, 3), True),
]


def recurrent_case(g, name, cls, kwargs, input_shape, with_carry):
    """One case; `g` is generate.py (its seed_of, float64_module, F64 and arr)."""
    seed = g.seed_of(name)
    torch.manual_seed(seed)
    module = g.float64_module(lambda: cls(**kwargs))
    order = [k for k, _ in module.named_parameters()]
    x = torch.randn(input_shape, dtype=g.F64, requires_grad=True)
    directions = 2 if module.bidirectional else 1
    carry_shape = (directions * module.num_layers, *([] if len(input_shape) == 2 else [input_shape[0 if module.batch_first else 1]]), module.hidden_size)
    carries = {}
    if with_carry:
        names = ["h0", "c0"] if cls is nn.LSTM else ["h0"]
        carries = {k: torch.randn(carry_shape, dtype=g.F64, requires_grad=True) for k in names}
    hx = None if not with_carry else (carries["h0"], carries["c0"]) if cls is nn.LSTM else carries["h0"]
    output, final = module(x, hx)
    outputs = {"output": output, **({"h_n": final[0], "c_n": final[1]} if cls is nn.LSTM else {"h_n": final})}
    cotangent = {k: torch.randn(v.shape, dtype=g.F64) for k, v in outputs.items()}
    wrt = [p for _, p in module.named_parameters()] + [x] + list(carries.values())
    grads = torch.autograd.grad(list(outputs.values()), wrt, grad_outputs=list(cotangent.values()))
    grad_names = order + ["input"] + list(carries.keys())
    return {
        "name": name,
        "kind": "recurrent",
        "module": cls.__name__,
        "torch": repr(module),
        "attrs": {**kwargs, "nonlinearity": getattr(module, "nonlinearity", None)},
        "seed": seed,
        "param_order": order,
        "params": {k: g.arr(p) for k, p in module.named_parameters()},
        "inputs": {"input": g.arr(x), **{k: g.arr(v) for k, v in carries.items()}},
        "outputs": {k: g.arr(v) for k, v in outputs.items()},
        "cotangent": {k: g.arr(v) for k, v in cotangent.items()},
        "grads": {k: g.arr(v) for k, v in zip(grad_names, grads)},
    }


def cases(g):
    return [recurrent_case(g, *c) for c in CASES]
