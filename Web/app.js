// Demarc web client: join with a participant token, publish camera and microphone,
// show everyone else, and say which edge node (region, jurisdiction) carries the media.
// Protocol: docs/signaling.md. No build step; plain browser APIs.
"use strict";

const demarc = { ws: null, publisher: null, subscriber: null, participant: null, node: null, tracks: {} };
window.demarc = demarc;  // for tests: getStats() on demarc.subscriber

const $ = (id) => document.getElementById(id);
function log(text) { $("log").textContent += text + "\n"; }
function send(message) { demarc.ws.send(JSON.stringify(message)); }

function showNode(node) {
  const banner = $("banner");
  if (!node || !node.region) {
    banner.textContent = "Connected to a node that did not say where it is.";
    return;
  }
  banner.classList.remove("unknown");
  banner.textContent = `Your media is processed in ${node.region} (jurisdiction ${node.jurisdiction || "?"}).`;
}

function tile(streamID) {
  let figure = document.getElementById("p-" + streamID);
  if (!figure) {
    figure = document.createElement("figure");
    figure.id = "p-" + streamID;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    const caption = document.createElement("figcaption");
    caption.textContent = streamID;
    figure.append(video, caption);
    $("grid").append(figure);
  }
  return figure;
}

async function startPublishing() {
  const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
  $("localVideo").srcObject = media;
  demarc.publisher = new RTCPeerConnection({ bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
  // ?simulcast=1 sends three layers (RFC 8853), quarter, half and full resolution.
  const simulcast = new URLSearchParams(location.search).get("simulcast") === "1";
  for (const track of media.getTracks()) {
    const init = { direction: "sendonly", streams: [media] };
    if (simulcast && track.kind === "video") {
      init.sendEncodings = [{ rid: "q", scaleResolutionDownBy: 4 }, { rid: "h", scaleResolutionDownBy: 2 }, { rid: "f" }];
    }
    demarc.publisher.addTransceiver(track, init);
  }
  await demarc.publisher.setLocalDescription(await demarc.publisher.createOffer());
  send({ type: "publish", sdp: demarc.publisher.localDescription.sdp });
}

function subscriberConnection() {
  if (demarc.subscriber) return demarc.subscriber;
  demarc.subscriber = new RTCPeerConnection({ bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
  demarc.subscriber.ontrack = (event) => {
    // The SFU's msid names the publisher as the stream (docs/signaling.md).
    const stream = event.streams[0] || new MediaStream([event.track]);
    const video = tile(stream.id).querySelector("video");
    if (video.srcObject !== stream) video.srcObject = stream;
  };
  return demarc.subscriber;
}

async function onMessage(message) {
  switch (message.type) {
    case "joined":
      demarc.participant = message.participant;
      demarc.node = message.node;
      showNode(message.node);
      log(`joined ${message.meeting} as ${message.participant}`);
      try { await startPublishing(); } catch (error) { log("not publishing: " + error); }
      break;
    case "publishAnswer":
      await demarc.publisher.setRemoteDescription({ type: "answer", sdp: message.sdp });
      break;
    case "subscriberOffer": {
      const pc = subscriberConnection();
      await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: "subscriberAnswer", sdp: pc.localDescription.sdp });
      break;
    }
    case "participantJoined": log(`${message.participant} joined`); break;
    case "participantLeft": {
      log(`${message.participant} left`);
      for (const figure of document.querySelectorAll("figure")) {
        if (figure.querySelector("figcaption").textContent === message.participant) figure.remove();
      }
      break;
    }
    case "trackPublished": demarc.tracks[message.track.id] = message.track; break;
    case "trackUnpublished": delete demarc.tracks[message.trackID]; break;
    case "activeSpeaker":
      for (const figure of document.querySelectorAll("figure")) {
        figure.classList.toggle("speaking", !!message.participant && figure.id === "p-" + message.participant);
      }
      break;
    case "connectionState": log(`${message.peerConnection} ${message.state}`); break;
    case "error": log(`error ${message.code}: ${message.message}`); break;
  }
}

function join(token) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  demarc.ws = new WebSocket(`${scheme}://${location.host}/v1/rtc?token=${encodeURIComponent(token)}`);
  demarc.ws.onopen = () => send({ type: "join" });
  demarc.ws.onmessage = (event) => onMessage(JSON.parse(event.data)).catch((error) => log("error: " + error));
  demarc.ws.onclose = () => log("signaling closed");
}

$("join").onsubmit = (event) => {
  event.preventDefault();
  join($("token").value.trim());
};
const fromURL = new URLSearchParams(location.search).get("token");
if (fromURL) join(fromURL);
