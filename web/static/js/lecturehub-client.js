// lecturehub-client.js: the live-room signalling protocol (docs/protocol.md, version 1).
//
// UI-free: it owns the WebSocket and the two peer connections ("up" to publish, "down" to
// receive) and reports what happens through callbacks registered with `on(event, fn)`.
//
// Events:
//   state         {state: "connecting" | "connected" | "reconnecting" | "closed"}
//   welcome       the welcome message (room, you, participants, publications)
//   participants  {participants: Map<identity_key, participant>, you}
//   you           the participant view of this client (after any change)
//   track         {mid, publication_id, identity_key, kind, source, track}
//   track_removed {mid, publication_id, identity_key, kind, source}
//   publications  {publications: Map<publication_id, publication>}
//   speaker       {identity_key | null}
//   room          {locked}
//   muted_by_host {publication_id, by}
//   published     {publications: [{publication_id, mid, kind, source}]}
//   unpublished   {}  all our own tracks were stopped (taken off stage)
//   error         the error message from the server
//   closed        {reason, final: true}   the room is over for this client (no reconnect)
//   refused       {code, reason}          the socket was refused before joining

export const PROTOCOL_VERSION = 1;
const GATHER_TIMEOUT_MS = 2000;
const FINAL_REASONS = new Set(["kicked", "room-ended", "replaced", "client-left"]);
const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];

function waitForGathering(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

export class LiveClient {
  constructor(url, options = {}) {
    this.url = url;
    this.gatherTimeoutMs = options.gatherTimeoutMs ?? GATHER_TIMEOUT_MS;
    this.handlers = new Map();
    this.ws = null;
    this.state = "closed";
    this.you = null;
    this.room = null;
    this.resumeToken = null;
    this.iceServers = [];
    this.participants = new Map();
    this.publications = new Map(); // everybody else's, by publication_id
    this.tracks = new Map(); // down mid -> {publication_id, identity_key, kind, source, track}
    this.down = null;
    this.up = null;
    this.upSources = new Map(); // "microphone"/"camera"/"screen" -> transceiver
    this.ownPublications = new Map(); // source -> publication_id
    this.localTracks = new Map(); // source -> MediaStreamTrack
    this.sentDownSdp = false;
    this.sentUpSdp = false;
    this.pingTimer = null;
    this.retries = 0;
    this.retryTimer = null;
    this.leaving = false;
    this.finished = false;
    this.upQueue = Promise.resolve();
  }

  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, []);
    this.handlers.get(event).push(fn);
    return this;
  }

  emit(event, detail) {
    for (const fn of this.handlers.get(event) || []) {
      try {
        fn(detail);
      } catch (err) {
        console.error("lecturehub-client handler failed", event, err);
      }
    }
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", { state });
  }

  // -- connection ---------------------------------------------------------------------------

  connect() {
    this.leaving = false;
    this.finished = false;
    this.openSocket();
  }

  openSocket() {
    clearTimeout(this.retryTimer);
    this.setState(this.resumeToken ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      const hello = { type: "hello", version: PROTOCOL_VERSION };
      if (this.resumeToken) hello.resume_token = this.resumeToken;
      this.send(hello);
    };
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      const handler = this.messageHandlers[message.type];
      if (handler) {
        handler.call(this, message).catch((err) => console.error("handling", message.type, err));
      }
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      this.socketClosed(event.code, event.reason);
    };
  }

  socketClosed(code, reason) {
    clearInterval(this.pingTimer);
    this.closePeers();
    if (code >= 4000 && code < 5000) {
      this.finished = true;
      this.setState("closed");
      this.emit("refused", { code, reason });
      return;
    }
    if (this.leaving || this.finished || FINAL_REASONS.has(reason)) {
      const told = this.finished; // the `closed` message came first and was reported
      this.finished = true;
      this.setState("closed");
      if (!this.leaving && !told) this.emit("closed", { reason: reason || "closed", final: true });
      return;
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    this.setState("reconnecting");
    const delay = RETRY_DELAYS_MS[Math.min(this.retries, RETRY_DELAYS_MS.length - 1)];
    this.retries += 1;
    this.retryTimer = setTimeout(() => this.openSocket(), delay);
  }

  // Drop the connection and join again (media failed but the socket still looks alive).
  restart() {
    if (this.finished || this.leaving) return;
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
    clearInterval(this.pingTimer);
    this.closePeers();
    this.scheduleReconnect();
  }

  leave() {
    this.leaving = true;
    clearTimeout(this.retryTimer);
    this.send({ type: "leave" });
    setTimeout(() => this.ws && this.ws.close(), 300);
    this.stopLocalTracks();
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  closePeers() {
    for (const info of this.tracks.values()) this.emit("track_removed", info);
    this.tracks.clear();
    this.publications.clear();
    if (this.down) this.down.close();
    if (this.up) this.up.close();
    this.down = null;
    this.up = null;
    this.upSources.clear();
    this.ownPublications.clear();
  }

  // -- messages from the server (one small handler each) -----------------------------------

  messageHandlers = {
    async welcome(message) {
      this.retries = 0;
      this.room = { room_id: message.room_id, title: message.title, mode: message.mode };
      this.resumeToken = message.resume_token;
      this.iceServers = (message.ice_servers || []).map((s) => {
        const server = { urls: s.urls };
        if (s.username) server.username = s.username;
        if (s.credential) server.credential = s.credential;
        return server;
      });
      this.you = message.you;
      this.participants = new Map(message.participants.map((p) => [p.identity_key, p]));
      this.publications = new Map(message.publications.map((p) => [p.publication_id, p]));
      clearInterval(this.pingTimer);
      const interval = Math.max(1, message.heartbeat_interval || 10) * 1000;
      this.pingTimer = setInterval(() => this.send({ type: "ping" }), interval);
      this.setState("connected");
      this.emit("welcome", message);
      this.emit("room", { locked: message.locked });
      this.emitParticipants();
      this.emit("publications", { publications: this.publications });
      // Publishing again after a reconnect: the caller's tracks are still running.
      if (this.localTracks.size > 0 && this.you.can_publish) {
        await this.publishTracks(new Map(this.localTracks));
      }
    },
    async pong() {},
    async error(message) {
      this.emit("error", message);
    },
    async closed(message) {
      this.finished = FINAL_REASONS.has(message.reason);
      if (this.finished) this.emit("closed", { reason: message.reason, final: true });
    },
    async subscribe_offer(message) {
      await this.answerSubscribe(message);
    },
    async publish_answer(message) {
      if (!this.up) return;
      await this.up.setRemoteDescription({ type: "answer", sdp: message.sdp });
      for (const p of message.publications) this.ownPublications.set(p.source, p.publication_id);
      this.emit("published", { publications: message.publications });
    },
    async participant_joined(message) {
      this.participants.set(message.participant.identity_key, message.participant);
      this.emitParticipants();
    },
    async participant_left(message) {
      this.participants.delete(message.identity_key);
      this.emitParticipants();
    },
    async participant_updated(message) {
      const p = message.participant;
      if (this.you && p.identity_key === this.you.identity_key) {
        const wasOnStage = this.you.on_stage;
        this.you = p;
        if (wasOnStage && !p.on_stage && this.room && this.room.mode === "lecture" && !p.can_publish) {
          this.unpublishAll(false);
        }
        this.emit("you", p);
      } else {
        this.participants.set(p.identity_key, p);
      }
      this.emitParticipants();
    },
    async publication_added(message) {
      this.publications.set(message.publication.publication_id, message.publication);
      this.emit("publications", { publications: this.publications });
    },
    async publication_removed(message) {
      this.publications.delete(message.publication_id);
      for (const [source, id] of this.ownPublications) {
        if (id === message.publication_id) this.ownPublications.delete(source);
      }
      this.emit("publications", { publications: this.publications });
    },
    async publication_updated(message) {
      this.publications.set(message.publication.publication_id, message.publication);
      this.emit("publications", { publications: this.publications });
    },
    async muted_by_host(message) {
      for (const [source, id] of this.ownPublications) {
        const track = this.localTracks.get(source);
        if (id === message.publication_id && track) track.enabled = false;
      }
      this.emit("muted_by_host", message);
    },
    async active_speaker(message) {
      this.emit("speaker", { identity_key: message.identity_key });
    },
    async room_updated(message) {
      this.emit("room", { locked: message.locked });
    },
  };

  emitParticipants() {
    this.emit("participants", { participants: this.participants, you: this.you });
  }

  // -- receiving (the "down" connection) ----------------------------------------------------

  // Candidates found after the SDP went out (gathering outlasted its timeout) are trickled.
  trickle(pc, name, isCurrent, sdpSent) {
    pc.onicecandidate = (event) => {
      if (!isCurrent() || !sdpSent()) return;
      const c = event.candidate;
      this.send({
        type: "ice_candidate",
        pc: name,
        candidate: c ? c.candidate : "",
        sdp_mid: c ? c.sdpMid : null,
        sdp_mline_index: c ? c.sdpMLineIndex : null,
      });
    };
  }

  makeDown() {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
    this.trickle(pc, "down", () => pc === this.down, () => this.sentDownSdp);
    pc.onconnectionstatechange = () => {
      if (pc === this.down && pc.connectionState === "failed") {
        this.emit("error", { code: "media-failed", message: "down connection failed" });
        this.restart();
      }
    };
    return pc;
  }

  async answerSubscribe(message) {
    if (!this.down) this.down = this.makeDown();
    const pc = this.down;
    this.sentDownSdp = false;
    await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await waitForGathering(pc, this.gatherTimeoutMs);
    if (pc !== this.down) return;
    this.send({ type: "subscribe_answer", sdp: pc.localDescription.sdp });
    this.sentDownSdp = true;
    this.mapTracks(pc, message.tracks);
  }

  // Tracks are mapped by mid from the offer's `tracks` list (m-sections are reused).
  mapTracks(pc, tracks) {
    const active = new Map(tracks.map((t) => [t.mid, t]));
    for (const [mid, info] of this.tracks) {
      const now = active.get(mid);
      if (!now || now.publication_id !== info.publication_id) {
        this.tracks.delete(mid);
        this.emit("track_removed", info);
      }
    }
    for (const transceiver of pc.getTransceivers()) {
      const t = active.get(transceiver.mid);
      if (!t || this.tracks.has(t.mid)) continue;
      const info = { ...t, track: transceiver.receiver.track };
      this.tracks.set(t.mid, info);
      this.emit("track", info);
    }
  }

  // -- publishing (the "up" connection) -----------------------------------------------------

  // Publish tracks: a Map of source ("microphone", "camera", "screen") -> MediaStreamTrack.
  // Serialised: one publish_offer at a time.
  publishTracks(tracks) {
    const run = () => this.doPublish(tracks);
    this.upQueue = this.upQueue.then(run, run);
    return this.upQueue;
  }

  async doPublish(tracks) {
    for (const [source, track] of tracks) this.localTracks.set(source, track);
    if (!this.up) {
      this.up = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
      const pc = this.up;
      this.trickle(pc, "up", () => pc === this.up, () => this.sentUpSdp);
      pc.onconnectionstatechange = () => {
        if (pc === this.up && pc.connectionState === "failed") this.restart();
      };
    }
    for (const [source, track] of tracks) {
      const existing = this.upSources.get(source);
      if (existing) {
        existing.direction = "sendonly";
        await existing.sender.replaceTrack(track);
      } else {
        const transceiver = this.up.addTransceiver(track, { direction: "sendonly" });
        this.upSources.set(source, transceiver);
      }
    }
    await this.offerUp();
  }

  async offerUp() {
    const pc = this.up;
    if (!pc) return;
    this.sentUpSdp = false;
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await waitForGathering(pc, this.gatherTimeoutMs);
    if (pc !== this.up) return;
    const sources = {};
    for (const [source, transceiver] of this.upSources) {
      if (transceiver.direction === "sendonly" && transceiver.mid !== null) {
        sources[transceiver.mid] = source;
      }
    }
    this.send({ type: "publish_offer", sdp: pc.localDescription.sdp, sources });
    this.sentUpSdp = true;
  }

  // Stop one source (e.g. the screen share): its m-section goes inactive in a new offer.
  unpublish(source) {
    const run = async () => {
      const track = this.localTracks.get(source);
      if (track) track.stop();
      this.localTracks.delete(source);
      const transceiver = this.upSources.get(source);
      if (!transceiver || !this.up) return;
      await transceiver.sender.replaceTrack(null);
      transceiver.direction = "inactive";
      this.ownPublications.delete(source);
      await this.offerUp();
    };
    this.upQueue = this.upQueue.then(run, run);
    return this.upQueue;
  }

  // The server already closed our publications (taken off stage): drop the up connection.
  unpublishAll(tellServer = true) {
    const run = async () => {
      if (tellServer) {
        for (const id of this.ownPublications.values()) {
          this.send({ type: "unpublish", publication_id: id });
        }
      }
      this.stopLocalTracks();
      if (this.up) this.up.close();
      this.up = null;
      this.upSources.clear();
      this.ownPublications.clear();
      this.emit("unpublished", {});
    };
    this.upQueue = this.upQueue.then(run, run);
    return this.upQueue;
  }

  stopLocalTracks() {
    for (const track of this.localTracks.values()) track.stop();
    this.localTracks.clear();
  }

  // Switch the device of a running source without renegotiation.
  async replaceTrack(source, track) {
    const old = this.localTracks.get(source);
    const transceiver = this.upSources.get(source);
    if (transceiver) await transceiver.sender.replaceTrack(track);
    this.localTracks.set(source, track);
    if (old && old !== track) old.stop();
  }

  isPublishing(source) {
    return this.ownPublications.has(source) || this.upSources.get(source)?.direction === "sendonly";
  }

  // Mute or unmute one of our sources: the track goes silent and the server stops forwarding.
  setMuted(source, muted) {
    const track = this.localTracks.get(source);
    if (track) track.enabled = !muted;
    const id = this.ownPublications.get(source);
    if (id) this.send({ type: "set_muted", publication_id: id, muted });
  }

  // -- hands and host controls ----------------------------------------------------------------

  raiseHand() {
    this.send({ type: "raise_hand" });
  }
  lowerHand(identityKey) {
    this.send(identityKey ? { type: "lower_hand", identity_key: identityKey } : { type: "lower_hand" });
  }
  stageOn(identityKey) {
    this.send({ type: "stage_on", identity_key: identityKey });
  }
  stageOff(identityKey) {
    this.send({ type: "stage_off", identity_key: identityKey });
  }
  mute(identityKey) {
    this.send({ type: "mute", identity_key: identityKey });
  }
  kick(identityKey) {
    this.send({ type: "kick", identity_key: identityKey });
  }
  lock(locked) {
    this.send({ type: "lock", locked });
  }
  endRoom() {
    this.send({ type: "end_room" });
  }

  // Inbound RTP counters for tests and diagnostics: {video: {framesDecoded, ...}, audio: {...}}.
  async inboundStats() {
    const out = [];
    if (!this.down) return out;
    const stats = await this.down.getStats();
    stats.forEach((report) => {
      if (report.type === "inbound-rtp") {
        out.push({
          kind: report.kind,
          mid: report.mid,
          framesDecoded: report.framesDecoded || 0,
          packetsReceived: report.packetsReceived || 0,
          bytesReceived: report.bytesReceived || 0,
        });
      }
    });
    return out;
  }
}
