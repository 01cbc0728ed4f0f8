// supplyline: keyboard shortcuts, a progressive enhancement. Every page works without it.
// The key map (desk-flow, #16), shown by "?":
//   Queue: j/k move, Enter opens, a/d open the offer at its accept/decline form.
//   Offer: j/k next/previous offer of the same filtered queue, a accept, d decline,
//   s spam, m merge, n note, o assign (#assign-to), r reply (#reply-body), when the page has them.
// Keys never fire while typing in a field; a key that opens a field is not typed into it
// (the default is prevented before the field gets the focus).
(function () {
  "use strict";
  var KEYS = [
    ["j / k", "next / previous offer"],
    ["Enter", "open the offer (queue)"],
    ["a", "accept: pickup form"],
    ["d", "decline: reason"],
    ["s", "spam"],
    ["m", "merge into another offer"],
    ["n", "note"],
    ["o", "assign"],
    ["r", "reply to the donor"],
    ["?", "show or hide these keys"],
    ["Esc", "close this help"]
  ];
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
  function rowLink(row) {
    var a = row.querySelector("a.ref");
    return a ? a.getAttribute("href") : row.getAttribute("data-href");
  }
  function open(anchor) {
    var all = rows();
    if (current < 0 || !all[current]) return;
    window.location.href = rowLink(all[current]) + (anchor || "");
  }
  function follow(id) {
    var a = document.getElementById(id);
    if (a) window.location.href = a.getAttribute("href");
  }
  // Opens the <details> around `field` (if any) and puts the cursor there.
  function focusField(field) {
    var f = document.getElementById(field);
    if (!f) return;
    var d = f.closest ? f.closest("details") : null;
    if (d) d.open = true;
    f.focus();
    f.scrollIntoView({ block: "center" });
  }
  function help() {
    var box = document.getElementById("key-help");
    if (box) { box.hidden = !box.hidden; return; }
    box = document.createElement("div");
    box.id = "key-help";
    box.className = "key-help";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", "Keyboard shortcuts");
    var h = document.createElement("h2");
    h.textContent = "Keys";
    box.appendChild(h);
    var dl = document.createElement("dl");
    KEYS.forEach(function (k) {
      var dt = document.createElement("dt");
      var kbd = document.createElement("kbd");
      kbd.textContent = k[0];
      dt.appendChild(kbd);
      var dd = document.createElement("dd");
      dd.textContent = k[1];
      dl.appendChild(dt);
      dl.appendChild(dd);
    });
    box.appendChild(dl);
    document.body.appendChild(box);
  }
  var OFFER_KEYS = {
    j: function () { follow("next-offer"); },
    k: function () { follow("prev-offer"); },
    a: function () { focusField("date"); },
    d: function () { focusField("decline-reason"); },
    s: function () { focusField("spam-button"); },
    m: function () { focusField("merge-into"); },
    n: function () { focusField("note-body"); },
    o: function () { focusField("assign-to"); },
    r: function () { focusField("reply-body"); }
  };
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      var box = document.getElementById("key-help");
      if (box) box.hidden = true;
    }
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "?") { e.preventDefault(); help(); return; }
    var onQueue = document.body.classList.contains("queue");
    if (onQueue) {
      if (e.key === "j") { e.preventDefault(); select(current + 1); }
      else if (e.key === "k") { e.preventDefault(); select(current - 1); }
      else if (e.key === "Enter") { open(""); }
      else if (e.key === "a") { e.preventDefault(); open("#accept"); }
      else if (e.key === "d") { e.preventDefault(); open("#decline"); }
    } else if (document.body.classList.contains("offer")) {
      var act = OFFER_KEYS[e.key];
      if (act) { e.preventDefault(); act(); }
    }
  });
  document.addEventListener("click", function (e) {
    var row = e.target.closest && e.target.closest("tr.offer-row");
    if (!row || e.target.closest("a, input, button, label")) return;
    window.location.href = rowLink(row);
  });
  document.addEventListener("DOMContentLoaded", function () {
    if (document.body.classList.contains("queue")) select(0);
    if (location.hash === "#accept") focusField("date");
    if (location.hash === "#decline") focusField("decline-reason");
    // The undo confirmation goes once its time is over (the server refuses later undos anyway).
    var undo = document.getElementById("undo-banner");
    if (undo) {
      var left = parseInt(undo.getAttribute("data-left-ms"), 10);
      if (left > 0) setTimeout(function () { undo.hidden = true; }, left);
    }
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
// ---- desk-replies: reply snippets -------------------------------------
// "Insert" puts the chosen snippet into the reply where the cursor is,
// without leaving the page; without script the form asks the server to.
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("#insert-snippet");
    if (!button) return;
    var select = document.getElementById("snippet");
    var box = document.getElementById("reply-body");
    var option = select && select.options[select.selectedIndex];
    if (!option || !box || !option.hasAttribute("data-body")) return;
    e.preventDefault();
    var text = option.getAttribute("data-body");
    var start = box.selectionStart, end = box.selectionEnd;
    box.value = box.value.slice(0, start) + text + box.value.slice(end);
    box.focus();
    box.selectionStart = box.selectionEnd = start + text.length;
  });
})();
