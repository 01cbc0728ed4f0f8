// supplyline (#16, desk-own): who else has this offer open, and select all
// on the queue. A progressive enhancement: every page works without it.
// The offer page pings every data-ping seconds and shows the others the
// server has seen lately; leaving the page says so.
(function () {
  "use strict";
  function presence(box) {
    var url = "/offers/" + box.getAttribute("data-offer") + "/presence";
    var secs = parseInt(box.getAttribute("data-ping"), 10) || 15;
    var csrf = box.getAttribute("data-csrf");
    var shown = document.getElementById("presence");
    function form(leave) {
      var f = new URLSearchParams();
      f.set("csrf", csrf);
      f.set("page", box.getAttribute("data-page"));
      if (leave) f.set("leave", "1");
      return f;
    }
    function ping() {
      fetch(url, { method: "POST", body: form(false), credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          if (j && shown) shown.textContent = j.others.length ? "Also open by " + j.others.join(", ") : "";
        })
        .catch(function () {});
    }
    setInterval(ping, secs * 1000);
    window.addEventListener("pagehide", function () {
      if (navigator.sendBeacon) navigator.sendBeacon(url, form(true));
    });
  }
  function selectAll(box) {
    box.addEventListener("change", function () {
      var all = document.querySelectorAll("form#bulk input[name=ids]");
      Array.prototype.forEach.call(all, function (c) { c.checked = box.checked; });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("ownership");
    if (box) presence(box);
    var all = document.getElementById("select-all");
    if (all) selectAll(all);
  });
})();
