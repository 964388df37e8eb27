// Progressive enhancement only: every page works without this file.
"use strict";
document.documentElement.classList.add("js");

document.addEventListener("change", function (event) {
  var target = event.target;
  if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit")) {
    target.form.submit();
  }
});

// A page that waits for the payment flow (data-poll="url") asks the server until the
// figures are final, then reloads to show them.
window.addEventListener("DOMContentLoaded", function () {
  var waiting = document.querySelector("[data-poll]");
  if (!waiting) { return; }
  var url = waiting.getAttribute("data-poll");
  var tries = 0;
  function ask() {
    tries += 1;
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { settled: false }; })
      .then(function (answer) {
        if (answer.settled) {
          window.location.replace(answer.next || window.location.pathname);
        } else if (tries < 120) {
          window.setTimeout(ask, Math.min(500 + tries * 100, 3000));
        }
      })
      .catch(function () { if (tries < 120) { window.setTimeout(ask, 3000); } });
  }
  window.setTimeout(ask, 300);
});

// Confirm destructive actions (void, reverse, revoke) before the form is sent.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});
