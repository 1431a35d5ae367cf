// Tollgate console: the little JavaScript the pages use. Everything works
// without it; it only refreshes live fragments, copies snippets and asks
// before deleting. Served from /ui/static under a CSP without inline code.
(function () {
  "use strict";

  // Live fragments: an element with data-poll="/ui/fragments/..." has its
  // content replaced by that fragment every data-interval milliseconds,
  // while the tab is visible.
  function poll(el) {
    var src = el.getAttribute("data-poll");
    var every = parseInt(el.getAttribute("data-interval"), 10) || 5000;
    var busy = false;
    setInterval(function () {
      if (document.hidden || busy) { return; }
      busy = true;
      fetch(src, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html !== null) { el.innerHTML = html; }
        })
        .catch(function () {})
        .finally(function () { busy = false; });
    }, every);
  }

  function copy(btn) {
    var target = document.getElementById(btn.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(target.textContent).then(function () {
      var was = btn.textContent;
      btn.textContent = btn.getAttribute("data-copied") || was;
      setTimeout(function () { btn.textContent = was; }, 1500);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(poll);
    document.querySelectorAll("[data-copy]").forEach(function (btn) {
      btn.addEventListener("click", function () { copy(btn); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
      });
    });
  });
})();
