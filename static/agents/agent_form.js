/* The agent editor (agents/admin.py, AgentAdminForm): the model and voice lists show only the
   chosen provider's choices (the catalog's, grouped by provider in the page: each select's
   data-provider-groups maps a group's label to its provider), and the provider's warning
   (data-key-warnings on the provider select: no usable key here) is shown next to it.
   Without this script every provider's choices stay listed, and the server still refuses a
   model or voice of another provider. No framework. */
(function () {
  "use strict";

  function filter(select, provider) {
    var groups = JSON.parse(select.getAttribute("data-provider-groups") || "{}");
    var keep = false;
    Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
      var mine = groups[group.label] === provider;
      group.hidden = !mine;
      group.disabled = !mine;
      if (mine && select.selectedOptions[0] && select.selectedOptions[0].parentNode === group) {
        keep = true;
      }
    });
    var selected = select.selectedOptions[0];
    if (!keep && selected && selected.parentNode.tagName === "OPTGROUP") {
      select.value = ""; // another provider's choice: back to this provider's default
    }
  }

  function warn(providerSelect, provider) {
    var warnings = JSON.parse(providerSelect.getAttribute("data-key-warnings") || "{}");
    var note = document.getElementById("agent-provider-key-warning");
    if (!note) {
      note = document.createElement("p");
      note.id = "agent-provider-key-warning";
      note.className = "agent-provider-warning";
      note.setAttribute("role", "status");
      // After the theme's wrapper (it centres the select's arrow on itself), if any.
      var wrapper = providerSelect.parentNode;
      var anchor = wrapper.classList.contains("relative") ? wrapper : providerSelect;
      anchor.insertAdjacentElement("afterend", note);
    }
    note.textContent = warnings[provider] || "";
    note.hidden = !warnings[provider];
  }

  function init() {
    var providerSelect = document.querySelector("select[name=ai_provider]");
    if (!providerSelect) {
      return;
    }
    var dependent = document.querySelectorAll("select[data-provider-groups]");
    function update() {
      var provider = providerSelect.value;
      Array.prototype.forEach.call(dependent, function (select) {
        filter(select, provider);
      });
      warn(providerSelect, provider);
    }
    providerSelect.addEventListener("change", update);
    update();
  }

  // Django's two-list widget (SelectFilter2.js, the knowledge bases) draws its search icons as
  // bare <span aria-label>: an aria-label on an element with no role is ignored by screen
  // readers (axe: aria-prohibited-attr). As an image the icon keeps its label, which then names
  // the search box it sits in. The widget builds itself on load: this runs just after.
  function labelSearchIcons() {
    Array.prototype.forEach.call(
      document.querySelectorAll(".search-label-icon[aria-label]:not([role])"),
      function (icon) {
        icon.setAttribute("role", "img");
      }
    );
  }
  window.addEventListener("load", function () {
    window.setTimeout(labelSearchIcons, 0);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
