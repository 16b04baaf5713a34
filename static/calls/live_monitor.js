/* A live call's page in the admin: the [data-live-call] element (templates/admin/calls/call/
   live_monitor.html) opens its data-ws-path WebSocket (calls.consumers_live) and keeps the
   transcript and the call's status up to date as the call goes: a snapshot first, then each
   turn, then the status until the call ends and the server closes the socket. Turns are keyed
   by speaker and start time, so one heard twice (snapshot, bridge replay, live) shows once.
   Once the call has ended the page reloads itself, to show the final call page. No
   framework. */
(function () {
  "use strict";

  var RETRY_MS = [1000, 2000, 5000, 10000];
  var MAX_FAILURES = 8; // then the page says so and stops asking

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function clock(ms) {
    var seconds = Math.floor((ms || 0) / 1000);
    return pad(Math.floor(seconds / 60)) + ":" + pad(seconds % 60);
  }

  function LiveCall(el) {
    this.el = el;
    this.list = el.querySelector("[data-transcript]");
    this.empty = el.querySelector("[data-transcript-empty]");
    this.statusEl = el.querySelector('[data-field="status"]');
    this.stateEl = el.querySelector('[data-field="connection"]');
    this.turns = {};
    this.failures = 0;
    this.ended = false;
    // The turns the page was rendered with.
    var self = this;
    Array.prototype.forEach.call(this.list.children, function (item) {
      self.turns[item.getAttribute("data-speaker") + ":" + item.getAttribute("data-start-ms")] = item;
    });
  }

  LiveCall.prototype.connection = function (text) {
    if (this.stateEl) {
      this.stateEl.textContent = text;
    }
  };

  LiveCall.prototype.addTurn = function (turn) {
    var key = turn.speaker + ":" + turn.start_ms;
    var existing = this.turns[key];
    if (existing) {
      existing.querySelector("[data-turn-text]").textContent = turn.text;
      return;
    }
    var item = document.createElement("li");
    item.className = "live-turn live-turn--" + turn.speaker;
    item.setAttribute("data-speaker", turn.speaker);
    item.setAttribute("data-start-ms", String(turn.start_ms));
    var meta = document.createElement("span");
    meta.className = "live-turn__meta";
    meta.textContent = (turn.speaker === "caller" ? "Caller" : turn.speaker === "agent" ? "Agent" : "System") +
      " · " + clock(turn.start_ms);
    var text = document.createElement("span");
    text.className = "live-turn__text";
    text.setAttribute("data-turn-text", "");
    text.textContent = turn.text;
    item.appendChild(meta);
    item.appendChild(text);
    // In order of start time (a replayed turn may be older than the ones shown).
    var next = null;
    var items = this.list.children;
    for (var i = 0; i < items.length; i++) {
      if (parseInt(items[i].getAttribute("data-start-ms"), 10) > turn.start_ms) {
        next = items[i];
        break;
      }
    }
    this.list.insertBefore(item, next);
    this.turns[key] = item;
    if (this.empty) {
      this.empty.hidden = true;
    }
    var atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
    if (atBottom || !next) {
      this.list.scrollTop = this.list.scrollHeight;
    }
  };

  LiveCall.prototype.status = function (call) {
    if (this.statusEl) {
      this.statusEl.textContent = call.status.replace("_", " ");
    }
    this.el.setAttribute("data-status", call.status);
    if (call.final) {
      this.ended = true;
      this.el.setAttribute("data-final", "true");
      this.el.querySelectorAll("[data-live-action]").forEach(function (node) {
        node.hidden = true;
      });
      this.connection("The call has ended.");
      // The final page: the transcript as written, the tools, the analysis.
      window.setTimeout(function () {
        window.location.reload();
      }, 1500);
    }
  };

  LiveCall.prototype.receive = function (message) {
    var self = this;
    if (message.type === "snapshot") {
      message.turns.forEach(function (turn) {
        self.addTurn(turn);
      });
      this.status(message.call);
    } else if (message.type === "turns") {
      message.turns.forEach(function (turn) {
        self.addTurn(turn);
      });
    } else if (message.type === "turn") {
      this.addTurn(message);
    } else if (message.type === "status") {
      this.status(message.call);
    }
  };

  LiveCall.prototype.open = function () {
    var self = this;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + this.el.getAttribute("data-ws-path"));
    socket.onopen = function () {
      self.failures = 0;
      self.el.setAttribute("data-connected", "true");
      self.connection("Live");
    };
    socket.onmessage = function (event) {
      self.receive(JSON.parse(event.data));
    };
    socket.onclose = function () {
      self.el.setAttribute("data-connected", "false");
      if (self.ended) {
        return;
      }
      // Refused (logged out, the call gone) or dropped: try again, more and more slowly.
      if (self.failures >= MAX_FAILURES) {
        self.connection("Not live: reload the page to try again.");
        return;
      }
      var wait = RETRY_MS[Math.min(self.failures, RETRY_MS.length - 1)];
      self.failures += 1;
      self.connection("Reconnecting…");
      window.setTimeout(function () {
        self.open();
      }, wait);
    };
  };

  function start() {
    document.querySelectorAll("[data-live-call]").forEach(function (el) {
      new LiveCall(el).open();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
