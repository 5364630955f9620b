// Where the web client reconnects when its edge goes away (docs/signaling.md,
// "Reconnecting"): the edge a `reconnect` message named first, then the `alternates` its
// last `joined` listed, never the node it just lost. A plain script (no build step): the web
// client loads it before app.js; tests load it in node.
"use strict";

/**
 * @param {{redirect?: string|null, alternates?: {node: string, signaling: string}[], lost?: string|null}} state
 * @returns {string[]} signaling URLs to try, in order, without repeats
 */
function demarcReconnectCandidates({ redirect = null, alternates = [], lost = null } = {}) {
  const out = [];
  for (const url of [redirect, ...(alternates || []).map((a) => a && a.signaling)]) {
    if (typeof url !== "string" || !/^wss?:\/\//.test(url) || url === lost || out.includes(url)) continue;
    out.push(url);
  }
  return out;
}

/** Milliseconds to wait before round `attempt` (0, 1, …) over the candidates: the server's
 *  `retryAfter` when it gave one, else 250 ms doubling to 4 s. */
function demarcReconnectDelay(attempt, retryAfter) {
  if (Number.isFinite(retryAfter) && retryAfter > 0) return Math.min(retryAfter, 10000);
  return Math.min(250 * 2 ** Math.max(0, attempt), 4000);
}

globalThis.demarcReconnectCandidates = demarcReconnectCandidates;
globalThis.demarcReconnectDelay = demarcReconnectDelay;
