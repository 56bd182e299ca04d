/**
 * A tree of a given depth for tests of the trees' depth limit (core/tree-ensemble.ts): each inner node splits
 * feature 0 at its level (left: a leaf holding the level), its right child is the next inner node. Both the Node
 * and the workerd tests use it (test/shared holds pure helpers for both).
 */
import type { Tree } from "../../core/tree-ensemble";

export function chainTree(depth: number): Tree {
  const t: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
  for (let d = 0; d < depth; d++) {
    const at = t.feature.length;
    t.feature.push(0, -1);
    t.threshold.push(d, 0);
    t.left.push(at + 1, 0);
    t.right.push(at + 2, 0);
    t.value.push(0, d);
  }
  t.feature.push(-1);
  t.threshold.push(0);
  t.left.push(0);
  t.right.push(0);
  t.value.push(depth);
  return t;
}
