// The path a participant's media takes between two nodes of a cascaded meeting: the nodes
// it crosses in the meeting's relay tree (placement's `relay_tree`, docs/relay.md). A plain
// script (no build step): the web client loads it before app.js; tests load it in node.
"use strict";

/**
 * @param {{parent: string, child: string}[]} tree the meeting's relay links
 * @param {string} from the node the media comes from
 * @param {string} to the node it reaches
 * @returns {string[]|null} [from, …, to], or null when the tree does not connect them
 */
function demarcRelayPath(tree, from, to) {
  if (from === to) return [from];
  const next = new Map();
  for (const { parent, child } of tree || []) {
    if (!next.has(parent)) next.set(parent, []);
    if (!next.has(child)) next.set(child, []);
    next.get(parent).push(child);
    next.get(child).push(parent);
  }
  const paths = [[from]];
  const seen = new Set([from]);
  while (paths.length) {
    const path = paths.shift();
    for (const node of next.get(path[path.length - 1]) || []) {
      if (seen.has(node)) continue;
      if (node === to) return [...path, node];
      seen.add(node);
      paths.push([...path, node]);
    }
  }
  return null;
}

globalThis.demarcRelayPath = demarcRelayPath;
