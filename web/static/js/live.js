// live.js: the live page's interface. All protocol work is in lecturehub-client.js.
import { LiveClient } from "./lecturehub-client.js";

const config = JSON.parse(document.getElementById("live-config").textContent);
const T = config.strings;
const $ = (id) => document.getElementById(id);

const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const client = new LiveClient(`${scheme}//${location.host}${config.socket_path}`);

const view = {
  you: null,
  participants: new Map(),
  publications: new Map(),
  videos: new Map(), // publication_id -> {key, source, figure, video}
  audios: new Map(), // publication_id -> audio element
  local: null, // {figure, video} of our own camera
  speaker: null,
  pinned: null,
  locked: false,
  mode: "lecture",
  starting: false,
};
window.lecturehub = { client, view };

// -- messages ---------------------------------------------------------------------------------

function showMessage(text, kind = "info", sticky = false) {
  const box = document.createElement("p");
  box.className = `message ${kind}`;
  box.textContent = text;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "close";
  close.textContent = "×";
  close.onclick = () => box.remove();
  box.append(close);
  $("messages").append(box);
  if (!sticky) setTimeout(() => box.remove(), 6000);
}

// -- names --------------------------------------------------------------------------------------

function person(key) {
  if (view.you && key === view.you.identity_key) return view.you;
  return view.participants.get(key);
}

function nameOf(key) {
  const p = person(key);
  const name = p ? p.display_name : key;
  return view.you && key === view.you.identity_key ? `${name} ${T.you}` : name;
}

// -- tiles and the stage -----------------------------------------------------------------------

function makeFigure(key, label) {
  const figure = document.createElement("figure");
  figure.className = "tile";
  figure.dataset.key = key;
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true; // sound goes through the audio elements
  const caption = document.createElement("figcaption");
  caption.textContent = label;
  figure.append(video, caption);
  figure.onclick = () => {
    view.pinned = view.pinned === key ? null : key;
    layout();
  };
  return { figure, video, caption };
}

function addVideo(info) {
  const label = info.source === "screen" ? `${nameOf(info.identity_key)} · ${T.screen}` : nameOf(info.identity_key);
  const entry = { key: info.identity_key, source: info.source, ...makeFigure(info.identity_key, label) };
  entry.figure.dataset.publication = info.publication_id;
  entry.video.srcObject = new MediaStream([info.track]);
  view.videos.set(info.publication_id, entry);
  layout();
}

function addAudio(info) {
  const audio = document.createElement("audio");
  audio.autoplay = true;
  audio.srcObject = new MediaStream([info.track]);
  audio.dataset.publication = info.publication_id;
  $("audio-sink").append(audio);
  view.audios.set(info.publication_id, audio);
  audio.play().catch(() => offerSound());
}

let soundOffered = false;
function offerSound() {
  if (soundOffered) return;
  soundOffered = true;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "sound-on";
  button.textContent = T.sound_on;
  button.onclick = () => {
    for (const audio of view.audios.values()) audio.play().catch(() => {});
    button.remove();
    soundOffered = false;
  };
  $("messages").append(button);
}

function removeTrack(info) {
  const entry = view.videos.get(info.publication_id);
  if (entry) {
    entry.figure.remove();
    view.videos.delete(info.publication_id);
  }
  const audio = view.audios.get(info.publication_id);
  if (audio) {
    audio.srcObject = null;
    audio.remove();
    view.audios.delete(info.publication_id);
  }
  layout();
}

function stageChoice(entries) {
  const byKey = (key) => entries.find((e) => e.key === key && e.source === "camera") || entries.find((e) => e.key === key);
  if (view.pinned) {
    const pinned = byKey(view.pinned);
    if (pinned) return pinned;
  }
  const screen = entries.find((e) => e.source === "screen");
  if (screen) return screen;
  if (view.speaker) {
    const speaking = byKey(view.speaker);
    if (speaking) return speaking;
  }
  const lead = entries.find((e) => {
    const p = person(e.key);
    return p && (p.moderator || p.on_stage) && e.key !== view.you?.identity_key;
  });
  return lead || entries.find((e) => e.key !== view.you?.identity_key) || entries[0] || null;
}

function placeholderTile(key) {
  const figure = document.createElement("figure");
  figure.className = "tile placeholder";
  figure.dataset.key = key;
  const face = document.createElement("div");
  face.className = "face";
  face.textContent = (person(key)?.display_name || "?").slice(0, 2);
  const caption = document.createElement("figcaption");
  caption.textContent = nameOf(key);
  figure.append(face, caption);
  return figure;
}

function layout() {
  const entries = [...view.videos.values()];
  if (view.local) entries.push(view.local);
  const chosen = stageChoice(entries);
  const stage = $("stage");
  const tiles = $("tiles");
  for (const old of stage.querySelectorAll("figure")) if (!entries.some((e) => e.figure === old)) old.remove();
  tiles.replaceChildren();
  for (const entry of entries) {
    entry.caption.textContent =
      entry.source === "screen" ? `${nameOf(entry.key)} · ${T.screen}` : nameOf(entry.key);
    const target = entry === chosen ? stage : tiles;
    if (entry.figure.parentElement !== target) target.append(entry.figure);
    entry.figure.classList.toggle("on-stage", entry === chosen);
    entry.video.play().catch(() => {});
  }
  // Sites are always shown, with their name, even before they send video.
  const withVideo = new Set(entries.map((e) => e.key));
  for (const [key, p] of view.participants) {
    if (p.kind === "site" && !withVideo.has(key)) tiles.append(placeholderTile(key));
  }
  $("stage-empty").hidden = chosen !== null;
  highlightSpeaker();
}

function highlightSpeaker() {
  for (const el of document.querySelectorAll("[data-key]")) {
    el.classList.toggle("speaking", el.dataset.key === view.speaker);
  }
}

// -- participants list and host controls ------------------------------------------------------

function badge(text, cls) {
  const span = document.createElement("span");
  span.className = `badge ${cls}`;
  span.textContent = text;
  return span;
}

function control(text, action, cls = "") {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `small ${cls}`;
  button.textContent = text;
  button.onclick = action;
  return button;
}

function renderParticipants() {
  const list = $("participants");
  list.replaceChildren();
  const everyone = [view.you, ...view.participants.values()].filter(Boolean);
  everyone.sort((a, b) => (b.moderator - a.moderator) || (b.on_stage - a.on_stage) || (b.hand_raised - a.hand_raised));
  const moderator = view.you && view.you.moderator;
  for (const p of everyone) {
    const item = document.createElement("li");
    item.dataset.key = p.identity_key;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = nameOf(p.identity_key);
    item.append(name);
    if (p.moderator) item.append(badge(T.host, "host"));
    if (p.kind === "site") item.append(badge(T.site, "site"));
    if (p.on_stage) item.append(badge(T.on_stage, "onstage"));
    if (p.hand_raised) item.append(badge(T.hand_raised, "hand"));
    if (moderator && p.identity_key !== view.you.identity_key) {
      const tools = document.createElement("span");
      tools.className = "tools";
      const key = p.identity_key;
      if (p.on_stage) tools.append(control(T.stage_off, () => client.stageOff(key)));
      else tools.append(control(T.stage_on, () => client.stageOn(key), "primary"));
      if (p.hand_raised) tools.append(control(T.lower_hand, () => client.lowerHand(key)));
      tools.append(control(T.mute, () => client.mute(key)));
      tools.append(
        control(T.remove, () => {
          if (confirm(T.confirm_remove)) client.kick(key);
        }, "danger"),
      );
      item.append(tools);
    }
    list.append(item);
  }
  $("participant-count").textContent = `(${everyone.length})`;
  $("host-controls").hidden = !moderator;
  $("lock").textContent = view.locked ? T.unlock : T.lock;
  highlightSpeaker();
}

// -- our own media -------------------------------------------------------------------------------

function mediaErrorText(err) {
  if (err && (err.name === "NotAllowedError" || err.name === "SecurityError")) return T.denied;
  if (err && (err.name === "NotFoundError" || err.name === "OverconstrainedError")) return T.not_found;
  if (err && err.name === "NotReadableError") return T.in_use;
  return T.media_failed;
}

function constraint(select) {
  return select.value ? { deviceId: { exact: select.value } } : true;
}

async function captureDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error("no media devices");
  const audio = constraint($("mic-select"));
  const video = constraint($("camera-select"));
  try {
    return await navigator.mediaDevices.getUserMedia({ audio, video });
  } catch (err) {
    if (err.name === "NotAllowedError" || err.name === "SecurityError") throw err;
    const stream = await navigator.mediaDevices.getUserMedia({ audio, video: false });
    showMessage(T.audio_only, "warning");
    return stream;
  }
}

async function startPublishing() {
  if (view.starting || client.localTracks.has("microphone") || client.localTracks.has("camera")) return;
  view.starting = true;
  try {
    const stream = await captureDevices();
    const tracks = new Map();
    const audio = stream.getAudioTracks()[0];
    const video = stream.getVideoTracks()[0];
    if (audio) tracks.set("microphone", audio);
    if (video) {
      tracks.set("camera", video);
      showLocal(video);
    }
    await client.publishTracks(tracks);
    await listDevices();
  } catch (err) {
    console.warn("media", err);
    showMessage(mediaErrorText(err), "error", true);
  } finally {
    view.starting = false;
    renderToolbar();
  }
}

function showLocal(track) {
  if (!view.local) {
    view.local = { key: view.you.identity_key, source: "camera", ...makeFigure(view.you.identity_key, nameOf(view.you.identity_key)) };
    view.local.figure.classList.add("self");
  }
  view.local.video.srcObject = new MediaStream([track]);
  layout();
}

function hideLocal() {
  if (view.local) view.local.figure.remove();
  view.local = null;
  layout();
}

async function toggleScreen() {
  if (client.localTracks.has("screen")) {
    await client.unpublish("screen");
    renderToolbar();
    return;
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
    showMessage(T.no_screen, "warning");
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = stream.getVideoTracks()[0];
    track.addEventListener("ended", () => client.unpublish("screen").then(renderToolbar));
    await client.publishTracks(new Map([["screen", track]]));
  } catch (err) {
    if (err.name !== "NotAllowedError") showMessage(mediaErrorText(err), "error");
  }
  renderToolbar();
}

function toggleSource(source) {
  const track = client.localTracks.get(source);
  if (!track) return;
  client.setMuted(source, track.enabled);
  renderToolbar();
}

async function listDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [kind, select, source] of [
    ["videoinput", $("camera-select"), "camera"],
    ["audioinput", $("mic-select"), "microphone"],
  ]) {
    const current = client.localTracks.get(source)?.getSettings().deviceId || select.value;
    select.replaceChildren();
    for (const device of devices.filter((d) => d.kind === kind)) {
      const option = document.createElement("option");
      option.value = device.deviceId;
      option.textContent = device.label || device.deviceId.slice(0, 8);
      option.selected = device.deviceId === current;
      select.append(option);
    }
  }
}

async function switchDevice(source, select) {
  if (!client.localTracks.has(source)) return;
  try {
    const kind = source === "camera" ? "video" : "audio";
    const stream = await navigator.mediaDevices.getUserMedia({ [kind]: { deviceId: { exact: select.value } } });
    const track = kind === "video" ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
    await client.replaceTrack(source, track);
    if (source === "camera") showLocal(track);
  } catch (err) {
    showMessage(mediaErrorText(err), "error");
  }
}

// -- toolbar ---------------------------------------------------------------------------------------

function renderToolbar() {
  const you = view.you;
  const mic = client.localTracks.get("microphone");
  const cam = client.localTracks.get("camera");
  const publishing = Boolean(mic || cam);
  const canPublish = Boolean(you && you.can_publish);
  $("publish").hidden = !canPublish || publishing || view.starting;
  $("mic").hidden = !mic;
  $("mic").textContent = mic && !mic.enabled ? T.unmute : T.mute;
  $("mic").classList.toggle("off", Boolean(mic && !mic.enabled));
  $("cam").hidden = !cam;
  $("cam").textContent = cam && !cam.enabled ? T.camera_on : T.camera_off;
  $("cam").classList.toggle("off", Boolean(cam && !cam.enabled));
  $("screen").hidden = !canPublish;
  $("screen").textContent = client.localTracks.has("screen") ? T.stop_sharing : T.share_screen;
  $("hand").hidden = !you || you.moderator;
  $("hand").textContent = you && you.hand_raised ? T.lower_hand : T.raise_hand;
  $("devices-toggle").hidden = !publishing;
}

// -- client events -----------------------------------------------------------------------------------

const STATE_TEXT = { connecting: "connecting", connected: "connected", reconnecting: "reconnecting", closed: "disconnected" };
client.on("state", ({ state }) => {
  const el = $("connection");
  el.dataset.state = state;
  el.textContent = T[STATE_TEXT[state]] || state;
});

// The room is over for this page: say why where the stage was, and empty the lists.
function finish(text) {
  showMessage(text, "error", true);
  hideLocal();
  document.body.classList.add("finished");
  view.participants = new Map();
  $("participants").replaceChildren();
  $("participant-count").textContent = "";
  $("host-controls").hidden = true;
  $("room-locked").hidden = true;
  $("tiles").replaceChildren();
  $("stage-empty").textContent = text;
  $("stage-empty").hidden = false;
}

client.on("welcome", (welcome) => {
  view.you = welcome.you;
  view.mode = welcome.mode;
  view.participants = client.participants;
  renderParticipants();
  renderToolbar();
  const alreadyPublishing = client.localTracks.size > 0;
  if (!alreadyPublishing && welcome.you.can_publish && (config.publish_on_join || welcome.you.on_stage)) {
    startPublishing();
  }
});

client.on("participants", ({ participants, you }) => {
  view.participants = participants;
  if (you) view.you = you;
  renderParticipants();
  layout();
});

client.on("you", (you) => {
  const before = view.you;
  view.you = you;
  if (before && !before.on_stage && you.on_stage) {
    showMessage(T.on_stage_now, "info");
    if (you.can_publish) startPublishing();
  }
  if (before && before.on_stage && !you.on_stage) {
    showMessage(T.off_stage_now, "info");
  }
  renderToolbar();
});

client.on("track", (info) => (info.kind === "video" ? addVideo(info) : addAudio(info)));
client.on("track_removed", removeTrack);
client.on("speaker", ({ identity_key }) => {
  view.speaker = identity_key;
  layout();
});
client.on("room", ({ locked }) => {
  view.locked = locked;
  $("room-locked").hidden = !locked;
  renderParticipants();
});
client.on("muted_by_host", () => {
  showMessage(T.muted_by_host, "warning");
  renderToolbar();
});
client.on("published", renderToolbar);
client.on("unpublished", () => {
  hideLocal();
  renderToolbar();
});
client.on("publications", ({ publications }) => {
  for (const [id, entry] of view.videos) {
    entry.figure.classList.toggle("muted", Boolean(publications.get(id)?.muted));
  }
});
client.on("error", (error) => {
  if (error.code === "media-failed") showMessage(T.media_lost, "warning");
  else console.warn("server error", error);
});

const CLOSED_TEXT = { kicked: "closed_kicked", "room-ended": "closed_room_ended", replaced: "closed_replaced" };
client.on("closed", ({ reason }) => finish(T[CLOSED_TEXT[reason]] || T.closed_other));

const REFUSED_TEXT = { 4409: "refused_not_live", 4410: "closed_room_ended", 4423: "refused_locked", 4429: "refused_full" };
client.on("refused", ({ code }) => finish(T[REFUSED_TEXT[code]] || T.refused_forbidden));

// -- buttons -----------------------------------------------------------------------------------------

$("publish").onclick = startPublishing;
$("mic").onclick = () => toggleSource("microphone");
$("cam").onclick = () => toggleSource("camera");
$("screen").onclick = toggleScreen;
$("hand").onclick = () => (view.you && view.you.hand_raised ? client.lowerHand() : client.raiseHand());
$("devices-toggle").onclick = () => {
  $("devices").hidden = !$("devices").hidden;
  listDevices();
};
$("camera-select").onchange = () => switchDevice("camera", $("camera-select"));
$("mic-select").onchange = () => switchDevice("microphone", $("mic-select"));
$("people-toggle").onclick = () => document.body.classList.toggle("show-side");
$("lock").onclick = () => client.lock(!view.locked);
$("end").onclick = () => {
  if (confirm(T.confirm_end)) client.endRoom();
};
$("leave").onclick = () => {
  client.leave();
  hideLocal();
  setTimeout(() => (location.href = config.meeting_url), 400);
};
window.addEventListener("pagehide", () => client.leave());

renderToolbar();
client.connect();
