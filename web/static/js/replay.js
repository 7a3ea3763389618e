// The replay player: speed, chapters, ?t= moments, resume, and watch heartbeats.
//
// What was watched is measured from playback itself, not from the seek bar: on each
// `timeupdate` the media time is compared with the previous one, and a step that is no longer
// than the wall-clock time since then (times the playback rate, plus slack) extends the current
// played range; anything else (a seek, a jump) starts a new range. The server unions the ranges
// and never credits more than real time.

const config = JSON.parse(document.getElementById("replay-config").textContent);
const video = document.getElementById("replay-video");
const speed = document.getElementById("speed");
const watched = document.getElementById("watched");
const watchedBar = document.getElementById("watched-bar");
const resumeNote = document.getElementById("resume-note");
const errorBox = document.getElementById("replay-error");
const momentButton = document.getElementById("copy-moment");
const momentLink = document.getElementById("moment-link");

const SLACK = 0.75; // seconds of media time a timeupdate step may exceed the expected one
let seq = config.next_seq;
let pending = []; // played ranges not yet reported: [[start, end], ...]
let current = null; // the range being played: [start, end]
let lastMedia = null;
let lastWall = 0;
let chain = Promise.resolve();
let timer = null;

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

function showPercent(percent) {
  watched.textContent = format(config.strings.watched, { percent });
  watchedBar.style.width = `${Math.min(100, percent)}%`;
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = !text;
}

// --- measuring what is played -----------------------------------------------------------------

function closeRange() {
  if (current && current[1] - current[0] > 0.01) {
    pending.push([round(current[0]), round(current[1])]);
  }
  current = null;
}

function round(x) {
  return Math.round(x * 1000) / 1000;
}

function onTimeUpdate() {
  const now = performance.now() / 1000;
  const t = video.currentTime;
  if (video.paused || video.seeking) {
    lastMedia = t;
    lastWall = now;
    return;
  }
  if (lastMedia !== null && current) {
    const step = t - lastMedia;
    const allowed = (now - lastWall) * video.playbackRate + SLACK;
    if (step >= 0 && step <= allowed) {
      current[1] = t;
    } else {
      closeRange();
      current = [t, t];
    }
  } else {
    current = [t, t];
  }
  lastMedia = t;
  lastWall = now;
}

function takeRanges() {
  // Report what has been played so far; the open range continues from its end.
  const open = current;
  closeRange();
  if (open) current = [open[1], open[1]];
  const ranges = pending;
  pending = [];
  return ranges;
}

// --- reporting --------------------------------------------------------------------------------

function payload(ranges) {
  return { seq: seq++, ranges, position: round(video.currentTime || 0) };
}

function send() {
  // One report at a time, in order: each takes the ranges played up to when it runs.
  chain = chain.then(sendOnce, sendOnce);
  return chain;
}

async function sendOnce() {
  if (!config.tracked) return;
  const ranges = takeRanges();
  const body = payload(ranges);
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
      if (typeof answer.next_seq === "number" && answer.next_seq > seq) seq = answer.next_seq;
      if (typeof answer.percent === "number") showPercent(answer.percent);
      showError("");
    } else if (response.status >= 500) {
      pending = body.ranges.concat(pending); // kept, sent again with the next heartbeat
      showError(config.strings.saving_failed);
    } else {
      showError((answer.error && answer.error.message) || config.strings.refused);
    }
  } catch (err) {
    pending = body.ranges.concat(pending);
    showError(config.strings.saving_failed);
  }
}

function beacon() {
  // Page close: sendBeacon cannot set headers, so the CSRF token goes in the form body.
  if (!config.tracked) return;
  const ranges = takeRanges();
  if (!ranges.length) return;
  const form = new FormData();
  form.append("csrf_token", config.csrf_token);
  form.append("payload", JSON.stringify(payload(ranges)));
  navigator.sendBeacon(config.heartbeat_url, form);
}

// --- controls ---------------------------------------------------------------------------------

function seekTo(seconds) {
  closeRange();
  video.currentTime = seconds;
  lastMedia = null;
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

video.addEventListener("timeupdate", () => {
  onTimeUpdate();
  markChapter();
});
video.addEventListener("seeking", () => {
  closeRange();
  lastMedia = null;
});
video.addEventListener("seeked", () => send());
video.addEventListener("pause", () => {
  closeRange();
  send();
});
video.addEventListener("ended", () => {
  closeRange();
  send();
});
video.addEventListener("error", () => showError(config.strings.refused));
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") beacon();
});
window.addEventListener("pagehide", beacon);

video.addEventListener(
  "loadedmetadata",
  () => {
    const start = config.start_at;
    const resume = config.position;
    if (start !== null && start !== undefined) {
      video.currentTime = start;
    } else if (resume > 5 && resume < config.duration - 5) {
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
  },
  { once: true },
);

timer = setInterval(() => {
  if (!video.paused || pending.length) send();
}, config.interval * 1000);

window.lecturehubReplay = { send, takeRanges: () => pending.slice(), seekTo, timer };
