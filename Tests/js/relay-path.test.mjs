import test from "node:test";
import assert from "node:assert/strict";
await import("../../Web/relay-path.js");
const path = globalThis.demarcRelayPath;

const tree = [{ parent: "fra-1", child: "dub-1" }, { parent: "fra-1", child: "zrh-1" }];

test("a leaf's media reaches the other leaf through the relay node", () => {
  assert.deepEqual(path(tree, "dub-1", "zrh-1"), ["dub-1", "fra-1", "zrh-1"]);
  assert.deepEqual(path(tree, "zrh-1", "fra-1"), ["zrh-1", "fra-1"]);
});

test("the same node is a path of one; unconnected or unknown nodes have none", () => {
  assert.deepEqual(path(tree, "fra-1", "fra-1"), ["fra-1"]);
  assert.equal(path(tree, "fra-1", "iad-1"), null);
  assert.equal(path([], "fra-1", "dub-1"), null);
  assert.equal(path(undefined, "fra-1", "dub-1"), null);
});

test("a longer chain is walked in order", () => {
  const chain = [{ parent: "a", child: "b" }, { parent: "b", child: "c" }, { parent: "c", child: "d" }, { parent: "b", child: "e" }];
  assert.deepEqual(path(chain, "d", "e"), ["d", "c", "b", "e"]);
});
