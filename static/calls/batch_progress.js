/* Batch progress in the admin: every [data-batch-progress] element (templates/admin/calls/
   batch/progress.html) is refreshed from its data-url (JSON) every data-poll-ms, until the
   batch is final (completed or canceled). The server writes every figure out; this copies
   them into the [data-field] elements, inside the bar and wherever the page marks one with
   data-progress-of="<batch id>". No framework. */
(function () {
  "use strict";

  var MAX_FAILURES = 5;

  function render(el, data) {
    var bar = el.querySelector("progress");
    if (bar) {
      bar.value = data.percent;
      bar.textContent = data.percent + "%";
    }
    // The bar's own figures, and those of the batch elsewhere on the page (the list's
    // status and counter columns: data-progress-of="<batch id>").
    var nodes = Array.prototype.slice.call(el.querySelectorAll("[data-field]")).concat(
      Array.prototype.slice.call(
        document.querySelectorAll('[data-progress-of="' + data.id + '"][data-field]')
      )
    );
    nodes.forEach(function (node) {
      var value = data.fields[node.getAttribute("data-field")];
      if (value !== undefined) {
        node.textContent = value;
      }
    });
    el.setAttribute("data-status", data.status);
    el.setAttribute("data-final", data.final ? "true" : "false");
    el.setAttribute("data-poll-ms", data.poll_ms || "");
  }

  function schedule(el, failures) {
    var wait = parseInt(el.getAttribute("data-poll-ms"), 10);
    if (el.getAttribute("data-final") === "true" || !wait) {
      return; // final: nothing will change any more
    }
    window.setTimeout(function () {
      if (document.hidden) {
        schedule(el, failures); // a tab in the background asks nothing
        return;
      }
      fetch(el.getAttribute("data-url"), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          if (response.status === 403 || response.status === 404) {
            throw new Error("gone"); // deleted, or no longer ours to see: stop
          }
          if (!response.ok || type.indexOf("application/json") !== 0) {
            throw new Error("retry"); // e.g. logged out (the login page): back off
          }
          return response.json();
        })
        .then(function (data) {
          render(el, data);
          schedule(el, 0);
        })
        .catch(function (error) {
          if (error.message !== "gone" && failures < MAX_FAILURES) {
            el.setAttribute("data-poll-ms", String(wait * 2));
            schedule(el, failures + 1);
          }
        });
    }, wait);
  }

  function start() {
    document.querySelectorAll("[data-batch-progress]").forEach(function (el) {
      schedule(el, 0);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
