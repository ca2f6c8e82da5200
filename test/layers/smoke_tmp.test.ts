import { it } from "vitest";
import { layers, nn, np, tree, grad } from "/work/main/src/index.js";
import * as random from "/work/main/src/random/index.js";
it("smoke", () => {
  const lenet = layers.named(
    { conv1: layers.conv2d(1, 6, 5), conv2: layers.conv2d(6, 16, 5), fc1: layers.linear(400, 120), fc2: layers.linear(120, 84), fc3: layers.linear(84, 10) },
    (m, x) => {
      let h = nn.maxPool2d(nn.relu(m.conv1(x)), 2);
      h = nn.maxPool2d(nn.relu(m.conv2(h)), 2);
      h = h.flatten(1);
      h = nn.relu(m.fc1(h));
      h = nn.relu(m.fc2(h));
      return m.fc3(h);
    },
    { name: "Net" },
  );
  const t0 = Date.now();
  const params = lenet.init(random.key(0));
  console.log("init ms", Date.now() - t0);
  console.log(layers.summary(lenet, params));
  const x = random.normal(random.key(1), [4, 1, 32, 32]);
  const t1 = Date.now();
  const y = lenet.apply(params, x);
  console.log("apply ms", Date.now() - t1, y.shape);
  const g = grad((p: typeof params) => nn.mseLoss(lenet.apply(p, x), np.zeros([4, 10])))(params);
  console.log(tree.flattenWithPath(g).map(([p, l]) => `${p} ${l.shape}`));
  const fb = layers.sequential(layers.linear(10, 100), layers.sigmoid(), layers.linear(100, 4));
  const pf = fb.init(random.key(2));
  console.log(Object.keys(pf), layers.summary(fb, pf));
  try { lenet.apply(params, np.zeros([4, 3, 32, 32])); } catch (e) { console.log(String(e)); }
  try { fb.apply(pf, np.zeros([4, 11])); } catch (e) { console.log(String(e)); }
  try { lenet.apply({ ...params, conv1: { weight: params.conv1.weight } } as typeof params, x); } catch (e) { console.log(String(e)); }
});
