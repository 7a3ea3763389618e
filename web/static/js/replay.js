// The replay player: speed, chapters, ?t= moments, resume, and watch heartbeats.
//
// What was watched comes from the media element's own `played` ranges (what the browser really
// rendered), never from the seek bar: seeking adds nothing to `played`. Each report carries the
// played ranges not yet accepted by the server; the server unions them and never credits more
// than real time (so 2x playback earns no extra).

const config = JSON.parse(document.getElementById("replay-config").textContent);
const video = document.getElementById("replay-video");
const speed = document.getElementById("speed");
const watched = document.getElementById("watched");
const watchedBar = document.getElementById("watched-bar");
const resumeNote = document.getElementById("resume-note");
const errorBox = document.getElementById("replay-error");
const momentButton = document.getElementById("copy-moment");
const momentLink = document.getElementById("moment-link");
const meetingWatched = document.getElementById("meeting-watched"); // only with several parts

const MIN_PIECE = 0.05; // seconds: smaller differences are rounding, not watching
let seq = config.next_seq;
let reported = []; // union of the ranges the server accepted from this page
let chain = Promise.resolve();
let timer = null;
showBar(config.percent);

function format(text, values) {
  return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key])).replace(/%%/g, "%");
}

function clock(seconds) {
  const total = Math.floor(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

// The current part's line in the list of parts shows the same figure.
const partWatched = document.querySelector("#parts li.current .part-watched");

function showPercent(percent) {
  const text = format(config.strings.watched, { percent: Number(percent).toFixed(1) });
  watched.textContent = text;
  if (partWatched) partWatched.textContent = text;
  showBar(percent);
}

function showBar(percent) {
  // Set through the CSSOM: a style= attribute in the page would need 'unsafe-inline' in the CSP.
  watchedBar.style.width = `${Math.min(100, percent)}%`;
}

function showMeetingPercent(percent) {
  // The meeting's coverage over all its parts: what make-up credit counts.
  if (!meetingWatched) return;
  meetingWatched.textContent = format(config.strings.meeting_watched, {
    percent: Number(percent).toFixed(1),
  });
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = !text;
}

function round(x) {
  return Math.round(x * 1000) / 1000;
}

// --- what was played ----------------------------------------------------------------------------

function played() {
  const out = [];
  for (let i = 0; i < video.played.length; i++) out.push([video.played.start(i), video.played.end(i)]);
  return out;
}

function union(ranges) {
  const sorted = ranges.filter((r) => r[1] > r[0]).sort((x, y) => x[0] - y[0]);
  const out = [];
  for (const [a, b] of sorted) {
    if (out.length && a <= out[out.length - 1][1]) {
      out[out.length - 1][1] = Math.max(out[out.length - 1][1], b);
    } else {
      out.push([a, b]);
    }
  }
  return out;
}

function subtract(ranges, minus) {
  // Parts of `ranges` not covered by `minus` (both sorted and disjoint).
  const out = [];
  for (const [a0, b] of ranges) {
    let a = a0;
    for (const [c, d] of minus) {
      if (d <= a || c >= b) continue;
      if (c > a) out.push([a, c]);
      a = Math.max(a, d);
      if (a >= b) break;
    }
    if (b > a) out.push([a, b]);
  }
  return out.filter(([a, b]) => b - a >= MIN_PIECE);
}

function unreported() {
  return subtract(played(), reported).map(([a, b]) => [round(a), round(b)]);
}

// --- reporting --------------------------------------------------------------------------------

function payload(ranges) {
  return { seq: seq++, ranges, position: round(video.currentTime || 0) };
}

function send() {
  // One report at a time, in order: each takes what was played up to when it runs.
  chain = chain.then(sendOnce, sendOnce);
  return chain;
}

async function sendOnce() {
  if (!config.tracked) return;
  const body = payload(unreported());
  try {
    const response = await fetch(config.heartbeat_url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": config.csrf_token },
      body: JSON.stringify(body),
      credentials: "same-origin",
      keepalive: true,
    });
    const answer = await response.json().catch(() => ({}));
    if (response.ok) {
      if (answer.accepted) reported = union(reported.concat(body.ranges));
      if (typeof answer.next_seq === "number" && answer.next_seq > seq) seq = answer.next_seq;
      if (typeof answer.percent === "number") showPercent(answer.percent);
      if (typeof answer.meeting_percent === "number") showMeetingPercent(answer.meeting_percent);
      showError("");
    } else if (response.status >= 500) {
      showError(config.strings.saving_failed); // not marked reported: sent again next time
    } else {
      showError((answer.error && answer.error.message) || config.strings.refused);
    }
  } catch (err) {
    showError(config.strings.saving_failed);
  }
}

function beacon() {
  // Page close: sendBeacon cannot set headers, so the CSRF token goes in the form body.
  if (!config.tracked) return;
  const ranges = unreported();
  if (!ranges.length) return;
  const form = new FormData();
  form.append("csrf_token", config.csrf_token);
  form.append("payload", JSON.stringify(payload(ranges)));
  if (navigator.sendBeacon(config.heartbeat_url, form)) reported = union(reported.concat(ranges));
}

// --- controls ---------------------------------------------------------------------------------

function seekTo(seconds) {
  video.currentTime = seconds;
  const played = video.play();
  if (played) played.catch(() => {});
}

speed.addEventListener("change", () => {
  video.playbackRate = Number(speed.value) || 1;
});

for (const button of document.querySelectorAll("#chapters .chapter")) {
  button.addEventListener("click", () => seekTo(Number(button.dataset.at)));
}

momentButton.addEventListener("click", async () => {
  const url = new URL(window.location.href);
  url.searchParams.set("t", String(Math.floor(video.currentTime)));
  momentLink.value = url.toString();
  momentLink.hidden = false;
  momentLink.select();
  try {
    await navigator.clipboard.writeText(momentLink.value);
  } catch (err) {
    /* the selected text field is the fallback */
  }
});

function markChapter() {
  let last = null;
  for (const button of document.querySelectorAll("#chapters .chapter")) {
    button.classList.remove("current");
    if (Number(button.dataset.at) <= video.currentTime + 0.25) last = button;
  }
  if (last) last.classList.add("current");
}

video.addEventListener("timeupdate", markChapter);
video.addEventListener("seeked", () => send());
video.addEventListener("pause", () => send());
video.addEventListener("ended", () => send());
video.addEventListener("error", () => showError(config.strings.refused));
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") beacon();
});
window.addEventListener("pagehide", beacon);

function startPosition() {
  const start = config.start_at;
  const resume = config.position;
  if (start !== null && start !== undefined) {
    video.currentTime = start;
  } else if (resume > 5 && resume < config.duration - 3) {
    video.currentTime = resume;
    resumeNote.textContent = format(config.strings.resumed, { time: clock(resume) });
    const restart = document.createElement("button");
    restart.type = "button";
    restart.className = "link";
    restart.textContent = config.strings.from_start;
    restart.addEventListener("click", () => {
      resumeNote.hidden = true;
      seekTo(0);
    });
    resumeNote.append(" ", restart);
    resumeNote.hidden = false;
  }
}

// The metadata may have loaded before this (deferred) script ran.
if (video.readyState >= 1) startPosition();
else video.addEventListener("loadedmetadata", startPosition, { once: true });

timer = setInterval(() => {
  if (!video.paused || unreported().length) send();
}, config.interval * 1000);

window.lecturehubReplay = { send, unreported, seekTo, timer };
