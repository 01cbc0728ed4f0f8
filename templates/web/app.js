// supplyline: keyboard shortcuts, a progressive enhancement. Every page works without it.
// Queue: j/k move, Enter opens, a/d open the offer at its accept/decline form.
// Offer page: a/d jump to the accept/decline form.
(function () {
  "use strict";
  function typing(e) {
    var t = e.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(t.tagName));
  }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.offer-row")); }
  var current = -1;
  function select(i) {
    var all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(all.length - 1, i));
    all.forEach(function (r, n) { r.classList.toggle("current", n === current); });
    all[current].scrollIntoView({ block: "nearest" });
  }
  function open(anchor) {
    var all = rows();
    if (current < 0 || !all[current]) return;
    window.location.href = all[current].getAttribute("data-href") + (anchor || "");
  }
  function focusForm(id, field) {
    var d = document.getElementById(id);
    if (!d) return;
    d.open = true;
    var f = document.getElementById(field);
    if (f) f.focus();
    d.scrollIntoView({ block: "center" });
  }
  document.addEventListener("keydown", function (e) {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    var onQueue = document.body.classList.contains("queue");
    if (onQueue) {
      if (e.key === "j") { select(current + 1); e.preventDefault(); }
      else if (e.key === "k") { select(current - 1); e.preventDefault(); }
      else if (e.key === "Enter") { open(""); }
      else if (e.key === "a") { open("#accept"); }
      else if (e.key === "d") { open("#decline"); }
    } else if (document.body.classList.contains("offer")) {
      if (e.key === "a") { focusForm("accept", "date"); e.preventDefault(); }
      else if (e.key === "d") { focusForm("decline", "decline-reason"); e.preventDefault(); }
    }
  });
  document.addEventListener("click", function (e) {
    var row = e.target.closest && e.target.closest("tr.offer-row");
    if (!row || e.target.closest("a, input, button, label")) return;
    window.location.href = row.getAttribute("data-href");
  });
  document.addEventListener("DOMContentLoaded", function () {
    if (document.body.classList.contains("queue")) select(0);
    if (location.hash === "#accept") focusForm("accept", "date");
    if (location.hash === "#decline") focusForm("decline", "decline-reason");
  });
})();

/* ---- desk-slots: the slot grid on the offer page (#16) ---- */
(function () {
  "use strict";
  function byId(id) { return document.getElementById(id); }
  function choose(button) {
    var grid = byId("slot-grid");
    if (!grid || !button) return;
    grid.querySelectorAll("button.slot.chosen").forEach(function (b) { b.classList.remove("chosen"); });
    button.classList.add("chosen");
    byId("date").value = button.getAttribute("data-date");
    byId("from").value = button.getAttribute("data-from");
    byId("to").value = button.getAttribute("data-to");
  }
  function showSite() {
    var grid = byId("slot-grid"), site = byId("site");
    if (!grid || !site) return;
    var shown = null;
    grid.querySelectorAll("table.slots").forEach(function (t) {
      var mine = t.getAttribute("data-site") === site.value;
      t.hidden = !mine;
      if (mine) shown = t;
    });
    if (shown) {
      var free = shown.querySelector("button.slot:not(.past):not(.full)");
      if (free) choose(free);
    }
  }
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("#slot-grid button.slot");
    if (b && !b.disabled) { choose(b); e.preventDefault(); }
  });
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "site") showSite();
  });
})();
/* ---- end desk-slots ---- */
