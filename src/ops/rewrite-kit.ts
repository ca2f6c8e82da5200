/**
 * Building blocks for the rewrite rules that op files declare on their primitives (core/compiler-facts.ts):
 * the few rules several primitives share, and the replacements written out once.
 */
import type { Rewrite, RewriteRule } from "../core/compiler-facts.js";
import type { Atom } from "../core/ir.js";

/** The output is `atom` itself. */
export const toOperand = (atom: Atom): Rewrite => ({ kind: "operand", atom });

/** op(x) -> x when x already has the output's shape and dtype (a reshape, broadcast or convert to itself). */
export function noOpWhenLikeOutput<P>(law: string): RewriteRule<P> {
  return { law, operands: [{ likeOutput: true }], rewrite: ({ inputs }) => toOperand(inputs[0]!) };
}

/** op(c) -> c when op only moves, copies or converts elements and every element of x holds c. */
export function keepsConstantOf<P>(law: string): RewriteRule<P> {
  return {
    law,
    operands: [{ constant: "any" }],
    rewrite: ({ constants }) => ({ kind: "constant", value: constants[0]! }),
  };
}
