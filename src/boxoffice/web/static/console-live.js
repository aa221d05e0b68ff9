// The console's live dashboard: on every sales message of the event's stream, fetch the figures again and swap them
// in; on every checkin.counts message, write the check-in counts into the check-in table.
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
  // The counts of every check-in list, as the stream sends them (the latest message holds the current counts).
  function counts(message) {
    var data;
    try { data = JSON.parse(message.data); } catch (e) { return; }
    (data.lists || []).forEach(function (list) {
      var row = document.querySelector('#live-checkins [data-checkin-list="' + list.id + '"]');
      if (!row) { return; }
      ["checked_in", "total", "duplicates"].forEach(function (name) {
        var cell = row.querySelector('[data-figure="' + name + '"]');
        if (cell) { cell.textContent = String(list[name]); }
      });
    });
  }
  // The stream's messages are named (``event: hello``, ``event: availability``...): ``onmessage`` would hear none.
  // The hello says the stream is open (the page already shows these figures); the sales ones refresh them.
  var stream = new EventSource(box.getAttribute("data-live-stream"));
  ["availability", "ticket.created", "ticket.updated", "ticket.deleted", "message"].forEach(function (name) {
    stream.addEventListener(name, refresh);
  });
  stream.addEventListener("checkin.counts", counts);
})();
