// The schedule editor's preview: as the operator types a cron expression (or a one-time
// time) or changes the time zone, ask the admin's preview endpoint for the next five runs and
// the plain-language reading, and show them under the expression. No framework, no CDN.
(function () {
  "use strict";

  function field(name) {
    return document.querySelector('[name="' + name + '"][data-schedule-preview]');
  }

  function setup() {
    var cron = field("cron_expression");
    var once = field("scheduled_time");
    var zone = field("timezone");
    if (!cron) {
      return;
    }
    var url = cron.getAttribute("data-schedule-preview");
    var box = document.createElement("div");
    box.className = "help schedule-preview";
    box.setAttribute("aria-live", "polite");
    cron.parentNode.appendChild(box);
    var timer = null;
    var asked = 0;

    function show(lines, isError) {
      box.textContent = "";
      box.style.color = isError ? "#ba2121" : "";
      lines.forEach(function (line, index) {
        var element = document.createElement(index === 0 ? "strong" : "div");
        element.textContent = line;
        box.appendChild(element);
      });
    }

    function refresh() {
      var params = new URLSearchParams();
      if (cron.value.trim()) {
        params.set("cron_expression", cron.value);
      } else if (once && once.value.trim()) {
        params.set("scheduled_time", once.value);
      } else {
        show([]);
        return;
      }
      if (zone && zone.value.trim()) {
        params.set("timezone", zone.value);
      }
      var ticket = ++asked;
      fetch(url + "?" + params.toString(), { credentials: "same-origin" })
        .then(function (response) {
          return response.json();
        })
        .then(function (body) {
          if (ticket !== asked) {
            return; // an answer to an older keystroke
          }
          if (body.error) {
            show([body.error], true);
          } else {
            show([body.description + " (" + body.timezone + ")", "Next runs:"].concat(body.next_runs));
          }
        })
        .catch(function () {
          show(["The preview could not be loaded."], true);
        });
    }

    function soon() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 300);
    }

    [cron, once, zone].forEach(function (input) {
      if (input) {
        input.addEventListener("input", soon);
      }
    });
    refresh();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
