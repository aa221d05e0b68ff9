// The console's live dashboard: on every sales message of the event's stream, fetch the figures again and swap them
// in (at most once a second: a busy sale sends many messages; the figures of the last one are what counts); on every
// checkin.counts message, write the check-in counts into the check-in table.
// Without JavaScript the page still shows the figures as of its load (reload for newer ones).
(function () {
  "use strict";
  var box = document.getElementById("live-figures");
  if (!box || !window.EventSource || !window.fetch) { return; }
  var source = box.getAttribute("data-live-source");
  var pending = false, again = false, last = 0, timer = null, GAP = 1000;
  function refresh() {
    if (pending) { again = true; return; }
    var wait = last + GAP - Date.now();
    if (wait > 0) {
      if (!timer) { timer = setTimeout(function () { timer = null; refresh(); }, wait); }
      return;
    }
    last = Date.now();
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
  // The hello says the stream is open (the page already shows these figures); every other one refreshes them:
  // availability and ticket types, and the orders' status changes (a partial refund moves money, not tickets).
  var stream = new EventSource(box.getAttribute("data-live-stream"));
  ["availability", "ticket.created", "ticket.updated", "ticket.deleted", "ticket.reordered", "message",
   "order.confirmed", "order.partially_refunded", "order.refunded", "order.canceled", "order.expired",
   "order.failed"].forEach(function (name) {
    stream.addEventListener(name, refresh);
  });
  stream.addEventListener("checkin.counts", counts);
})();
