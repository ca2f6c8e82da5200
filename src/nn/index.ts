/** PyTorch-style functional ops (like torch.nn.functional): activations, losses, conv and pooling. */
export * from "./activations.js";
export * from "./losses.js";
