import test from "node:test";
import assert from "node:assert/strict";
await import("../../Web/reconnect.js");
const candidates = globalThis.demarcReconnectCandidates;
const delay = globalThis.demarcReconnectDelay;

const alternates = [{ node: "dub-1", signaling: "ws://dub:8080/v1/rtc" }, { node: "zrh-1", signaling: "ws://zrh:8080/v1/rtc" }];

test("the edge a reconnect message named comes first, then the alternates", () => {
  assert.deepEqual(candidates({ redirect: "ws://zrh:8080/v1/rtc", alternates }), ["ws://zrh:8080/v1/rtc", "ws://dub:8080/v1/rtc"]);
});

test("the lost node is never retried, and bad or missing URLs are skipped", () => {
  assert.deepEqual(candidates({ alternates, lost: "ws://dub:8080/v1/rtc" }), ["ws://zrh:8080/v1/rtc"]);
  assert.deepEqual(candidates({ redirect: "javascript:alert(1)", alternates: [null, { node: "x" }, ...alternates] }),
                   ["ws://dub:8080/v1/rtc", "ws://zrh:8080/v1/rtc"]);
  assert.deepEqual(candidates({}), []);
  assert.deepEqual(candidates(), []);
});

test("rounds back off unless the server said when to come back", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map((a) => delay(a)), [250, 500, 1000, 2000, 4000, 4000, 4000]);
  assert.equal(delay(3, 300), 300);
  assert.equal(delay(0, 60000), 10000);
  assert.equal(delay(0, -5), 250);
});
