/* "Talk to this agent" on the agent's admin page (the [data-talk] panel of
   agents/templates/admin/agents/agent/talk.html): a test call from the browser.

   Start: the microphone is asked for first (a refused microphone makes no call), then the
   page posts to data-start-url, which creates the call (direction "web") and answers the
   media stream's path. The stream speaks the carrier protocol the server already knows
   (Twilio's Media Streams: connected, start, media, mark, stop; mu-law 8 kHz in 20 ms
   frames), so the call goes through the same consumer and bridge as a phone call. The
   audio work is in an AudioWorklet (static/agents/talk-worklet.js).

   The transcript beside it comes from the call's live view (data live_path: the operator
   WebSocket of calls.consumers_live, as on the call's page), turn by turn as they are said;
   once the call is final it is read once from the call's API with the session (the
   transcript as written, the duration). If the live view cannot be opened, the API is read
   every second instead. Hang up (or leaving the page) sends "stop", as a carrier does when
   the caller hangs up. No framework. */
(function () {
  "use strict";

  var POLL_MS = 1000;
  var SPEAKERS = { agent: "Agent", caller: "You" };

  function csrfToken(panel) {
    var input = panel.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function base64(bytes) {
    var text = "";
    for (var i = 0; i < bytes.length; i++) {
      text += String.fromCharCode(bytes[i]);
    }
    return window.btoa(text);
  }

  function unbase64(text) {
    var raw = window.atob(text);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  function Talk(panel) {
    this.panel = panel;
    this.startButton = panel.querySelector("[data-talk-start]");
    this.hangupButton = panel.querySelector("[data-talk-hangup]");
    this.statusLine = panel.querySelector("[data-talk-status]");
    this.transcript = panel.querySelector("[data-talk-transcript]");
    this.empty = panel.querySelector("[data-talk-empty]");
    this.callLink = panel.querySelector("[data-talk-call-link]");
    this.startButton.addEventListener("click", this.start.bind(this));
    this.hangupButton.addEventListener("click", this.hangup.bind(this));
    var self = this;
    window.addEventListener("pagehide", function () {
      self.hangup();
    });
  }

  Talk.prototype.status = function (text, state) {
    this.statusLine.textContent = text;
    this.panel.setAttribute("data-state", state);
  };

  Talk.prototype.start = function () {
    var self = this;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.AudioWorkletNode) {
      self.status("This browser cannot stream the microphone (it needs a secure page: https or localhost).", "failed");
      return;
    }
    self.startButton.disabled = true;
    self.transcript.textContent = "";
    self.turns = {};
    self.empty.hidden = false;
    self.callLink.hidden = true;
    self.status("Asking for the microphone…", "starting");
    navigator.mediaDevices
      .getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      })
      .then(function (stream) {
        self.microphone = stream;
        self.audio = new AudioContext();
        return self.audio.audioWorklet.addModule(self.panel.getAttribute("data-worklet-url"));
      })
      .then(function () {
        self.status("Calling the agent…", "starting");
        return fetch(self.panel.getAttribute("data-start-url"), {
          method: "POST",
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRFToken": csrfToken(self.panel) },
        });
      })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) {
            var message = (body.error && body.error.message) || "The call could not be started.";
            throw new Error(message);
          }
          return body;
        });
      })
      .then(function (call) {
        self.call = call;
        self.callLink.href = call.call_admin_url;
        self.callLink.hidden = false;
        self.connect(call);
      })
      .catch(function (error) {
        self.release();
        self.startButton.disabled = false;
        var reason = error && error.name === "NotAllowedError" ? "the microphone was refused" : error.message;
        self.status("Could not start: " + reason, "failed");
      });
  };

  Talk.prototype.connect = function (call) {
    var self = this;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + call.stream_path);
    var streamSid = "WB" + call.call_id + "-" + Date.now().toString(36);
    var chunk = 0;
    self.connected = false;
    self.hangingUp = false;
    self.socket = socket;
    self.streamSid = streamSid;

    self.node = new AudioWorkletNode(self.audio, "talk-processor", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
    });
    self.audio.createMediaStreamSource(self.microphone).connect(self.node);
    self.node.connect(self.audio.destination);
    self.node.port.onmessage = function (event) {
      var message = event.data;
      if (socket.readyState !== WebSocket.OPEN) {
        return;
      }
      if (message.type === "frame") {
        chunk += 1;
        socket.send(
          JSON.stringify({
            event: "media",
            streamSid: streamSid,
            media: { track: "inbound", chunk: String(chunk), timestamp: String((chunk - 1) * 20), payload: base64(message.bytes) },
          })
        );
      } else if (message.type === "mark") {
        socket.send(JSON.stringify({ event: "mark", streamSid: streamSid, mark: { name: message.name } }));
      }
    };

    socket.onopen = function () {
      self.connected = true;
      socket.send(JSON.stringify({ event: "connected", protocol: "Call", version: "1.0.0" }));
      socket.send(
        JSON.stringify({
          event: "start",
          streamSid: streamSid,
          start: {
            streamSid: streamSid,
            tracks: ["inbound"],
            mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
          },
        })
      );
      self.audio.resume();
      self.hangupButton.disabled = false;
      self.status("Connected: speak to the agent.", "live");
      self.watch();
    };
    socket.onmessage = function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (message.event === "media") {
        self.node.port.postMessage({ type: "play", bytes: unbase64(message.media.payload) });
      } else if (message.event === "mark") {
        self.node.port.postMessage({ type: "mark", name: message.mark.name });
      } else if (message.event === "clear") {
        self.node.port.postMessage({ type: "clear" });
      }
    };
    socket.onclose = function () {
      var byUs = self.hangingUp;
      self.release();
      if (!self.connected) {
        // Refused before it opened (the agent or its key went away meanwhile): the call
        // never started, and the stale-calls sweep ends its record.
        self.status("Could not connect to the agent. Try again in a moment.", "failed");
        self.startButton.disabled = false;
        self.socket = null;
        self.call = null;
        return;
      }
      self.status(byUs ? "Hung up. Saving the call…" : "The call ended. Saving it…", "ending");
      if (!self.live) {
        self.poll(); // else the live view says when the call is final, then closes
      }
    };
  };

  Talk.prototype.hangup = function () {
    var socket = this.socket;
    if (!socket || this.hangingUp) {
      return;
    }
    this.hangingUp = true;
    this.hangupButton.disabled = true;
    if (socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ event: "stop", streamSid: this.streamSid }));
      socket.close(1000);
    } else {
      this.release();
    }
  };

  /* The microphone and the audio graph, released however the call ends. */
  Talk.prototype.release = function () {
    if (this.microphone) {
      this.microphone.getTracks().forEach(function (track) {
        track.stop();
      });
      this.microphone = null;
    }
    if (this.node) {
      this.node.port.onmessage = null;
      this.node.disconnect();
      this.node = null;
    }
    if (this.audio) {
      this.audio.close();
      this.audio = null;
    }
    this.hangupButton.disabled = true;
  };

  /* The live view: every turn as it is said, until the call is final (the server then
     closes it), or until it fails; either way the API is read next. */
  Talk.prototype.watch = function () {
    var self = this;
    var call = self.call;
    if (!call.live_path) {
      self.poll();
      return;
    }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var live = new WebSocket(scheme + window.location.host + call.live_path);
    self.live = live;
    live.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "snapshot" || message.type === "turns") {
        message.turns.forEach(self.addTurn, self);
      } else if (message.type === "turn") {
        self.addTurn(message);
      }
    };
    live.onclose = function () {
      self.live = null;
      if (self.call === call) {
        self.poll();
      }
    };
  };

  Talk.prototype.poll = function () {
    var self = this;
    if (self.polling || !self.call) {
      return;
    }
    self.polling = true;
    fetch(self.call.call_api_url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (call) {
        self.render(call.transcript || []);
        self.panel.setAttribute("data-call-status", call.status);
        if (call.ended_at) {
          var seconds = call.duration_seconds === null ? "" : ", " + call.duration_seconds + " s";
          self.status("Call ended: " + call.status.replace("_", " ") + seconds + ".", "ended");
          self.startButton.disabled = false;
          self.socket = null;
          self.hangingUp = false;
          self.call = null;
          self.polling = false;
          return;
        }
        self.polling = false;
        window.setTimeout(self.poll.bind(self), POLL_MS);
      })
      .catch(function () {
        self.polling = false;
        window.setTimeout(self.poll.bind(self), POLL_MS * 3);
      });
  };

  /* The API's transcript, as written: it replaces what the live view showed. */
  Talk.prototype.render = function (turns) {
    if (turns.length === 0 && this.transcript.children.length > 0) {
      return; // not written yet: keep the live turns
    }
    this.transcript.textContent = "";
    this.turns = {};
    turns.forEach(this.addTurn, this);
  };

  /* One turn, shown once however often it is heard (keyed by speaker and start), in order
     of start time. */
  Talk.prototype.addTurn = function (turn) {
    var list = this.transcript;
    var key = turn.speaker + ":" + turn.start_ms;
    this.turns = this.turns || {};
    var item = this.turns[key];
    if (!item) {
      item = document.createElement("li");
      item.className = "talk-turn talk-turn-" + turn.speaker;
      item.setAttribute("data-speaker", turn.speaker);
      item.setAttribute("data-start-ms", String(turn.start_ms));
      var next = null;
      for (var i = 0; i < list.children.length; i++) {
        if (parseInt(list.children[i].getAttribute("data-start-ms"), 10) > turn.start_ms) {
          next = list.children[i];
          break;
        }
      }
      list.insertBefore(item, next);
      this.turns[key] = item;
    }
    item.textContent = "";
    var who = document.createElement("strong");
    who.textContent = (SPEAKERS[turn.speaker] || turn.speaker) + ": ";
    item.appendChild(who);
    item.appendChild(document.createTextNode(turn.text));
    this.empty.hidden = true;
    list.scrollTop = list.scrollHeight;
  };

  function init() {
    document.querySelectorAll("[data-talk]").forEach(function (panel) {
      new Talk(panel);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
