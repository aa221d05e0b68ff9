// The ticket type form's live preview: as the form changes, post it to the preview endpoint (computed on the
// server by ticketing/pricing.py) and show the answer. Without JavaScript, the "Preview" button does the same.
(function () {
  "use strict";
  var form = document.getElementById("ticket-form");
  if (!form || !window.fetch || !window.FormData) { return; }
  var timer = null;
  function update() {
    var body = new URLSearchParams(new FormData(form));
    fetch(form.getAttribute("data-preview"), {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "Content-Type": "application/x-www-form-urlencoded" }
    })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("ticket-preview");
        var current = document.getElementById("ticket-preview");
        if (fresh && current) { current.replaceWith(fresh); }
      })
      .catch(function () {});
  }
  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(update, 300); });
  form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(update, 100); });
})();
