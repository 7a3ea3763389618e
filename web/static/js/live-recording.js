// live-recording.js: the host's recording controls on the live page (record, pause, resume,
// stop, chapter markers) and the recording's state (recording / paused / off, time recorded).
//
// The page includes this script only for the meeting's hosts; the server checks every request
// again (web/replay/controls.py). The state is asked for every few seconds, so several hosts
// (or the meeting page) acting on the same recording stay in step; the time recorded ticks
// locally in between.

const config = JSON.parse(document.getElementById("live-config").textContent).recording;
const T = config.strings;
const $ = (id) => document.getElementById(id);
const panel = $("recording-controls");

let state = { state: "off", elapsed: 0, can_record: false };
let fetchedAt = performance.now();
let busy = false;

function clock(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

function elapsedNow() {
  const running = state.state === "recording" ? (performance.now() - fetchedAt) / 1000 : 0;
  return state.elapsed + running;
}

function say(text) {
  $("recording-message").textContent = text || "";
  $("recording-message").hidden = !text;
}

function render() {
  const on = state.state === "recording" || state.state === "paused";
  panel.dataset.state = state.state;
  $("recording-state").textContent = T[state.state] || state.state;
  $("recording-elapsed").textContent = on ? clock(elapsedNow()) : "";
  $("recording-start").hidden = on || state.state === "starting" || !state.can_record;
  $("recording-pause").hidden = state.state !== "recording";
  $("recording-resume").hidden = state.state !== "paused";
  $("recording-stop").hidden = !on;
  $("recording-marker").hidden = !on;
  for (const button of panel.querySelectorAll("button")) button.disabled = busy;
}

function accept(answer) {
  if (answer && typeof answer.state === "string") {
    state = answer;
    fetchedAt = performance.now();
  }
  render();
}

async function refresh() {
  if (busy) return;
  try {
    const response = await fetch(config.state_url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.ok) accept(await response.json());
  } catch (err) {
    /* the next poll tries again */
  }
}

async function act(action, fields = {}) {
  const form = new FormData();
  form.append("csrf_token", config.csrf_token);
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  busy = true;
  render();
  try {
    const response = await fetch(config.action_url + action, {
      method: "POST",
      headers: { Accept: "application/json", "X-CSRF-Token": config.csrf_token },
      body: form,
      credentials: "same-origin",
    });
    const answer = await response.json().catch(() => ({}));
    busy = false;
    if (!response.ok) {
      say((answer.error && answer.error.message) || T.failed);
      await refresh();
      return false;
    }
    say("");
    accept(answer);
    return true;
  } catch (err) {
    busy = false;
    say(T.failed);
    render();
    return false;
  }
}

$("recording-start").addEventListener("click", () => act("start"));
$("recording-pause").addEventListener("click", () => act("pause"));
$("recording-resume").addEventListener("click", () => act("resume"));
$("recording-stop").addEventListener("click", () => {
  if (confirm(T.confirm_stop)) act("stop");
});
$("recording-marker").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = event.target.elements.title;
  const title = input.value.trim();
  if (!title) return;
  const at = clock(elapsedNow());
  if (await act("marker", { title })) {
    input.value = "";
    say(T.marker_added.replace("%(time)s", at));
  }
});

render();
refresh();
setInterval(refresh, config.poll_seconds * 1000);
setInterval(() => {
  if (state.state === "recording") $("recording-elapsed").textContent = clock(elapsedNow());
}, 1000);
window.lecturehubRecording = { refresh, act, state: () => state };
