/**
 * PyTorch-style functional ops (like torch.nn.functional): activations, losses, conv and pooling.
 * @module
 */
export * from "./activations.js";
export { avgPool2d, conv2d, convTranspose2d, maxPool2d } from "./conv.js";
export * from "./losses.js";
