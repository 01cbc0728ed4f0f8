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
