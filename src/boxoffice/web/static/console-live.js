// The console's live dashboard: on every message of the event's stream, fetch the figures again and swap them in.
// Without JavaScript the page still shows the figures as of its load (reload for newer ones).
(function () {
  "use strict";
  var box = document.getElementById("live-figures");
  if (!box || !window.EventSource || !window.fetch) { return; }
  var source = box.getAttribute("data-live-source");
  var pending = false, again = false;
  function refresh() {
    if (pending) { again = true; return; }
    pending = true;
    box.setAttribute("aria-busy", "true");
    fetch(source, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (html !== null) {
          var page = new DOMParser().parseFromString(html, "text/html");
          box.replaceChildren.apply(box, Array.prototype.slice.call(page.body.childNodes));
        }
      })
      .catch(function () {})
      .then(function () {
        pending = false;
        box.setAttribute("aria-busy", "false");
        box.setAttribute("data-refreshed", String(Date.now()));
        if (again) { again = false; refresh(); }
      });
  }
  var stream = new EventSource(box.getAttribute("data-live-stream"));
  var first = true;
  stream.onmessage = function () {
    if (first) { first = false; return; }  // the hello: the page already shows these figures
    refresh();
  };
})();
