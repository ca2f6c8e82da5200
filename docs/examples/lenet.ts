/**
 * The PyTorch tutorial's LeNet as a pure model: `lenet.init(key)` gives the parameter tree
 * `{ conv1, conv2, fc1, fc2, fc3 }` (PyTorch's state_dict names), `lenet.apply(params, x)` the logits.
 */
import { layers, nn } from "tracegrad";

export const lenet = layers.named(
  {
    conv1: layers.conv2d(1, 6, 5),
    conv2: layers.conv2d(6, 16, 5),
    fc1: layers.linear(16 * 5 * 5, 120),
    fc2: layers.linear(120, 84),
    fc3: layers.linear(84, 10),
  },
  (m, x) => {
    let h = nn.maxPool2d(nn.relu(m.conv1(x)), 2); // [N, 6, 14, 14]
    h = nn.maxPool2d(nn.relu(m.conv2(h)), 2); // [N, 16, 5, 5]
    h = h.flatten(1); // [N, 400], features in (C, H, W) order as torch.flatten(x, 1)
    h = nn.relu(m.fc1(h));
    h = nn.relu(m.fc2(h));
    return m.fc3(h);
  },
  { name: "Net" },
);

export type LeNetParams = ReturnType<typeof lenet.init>;
