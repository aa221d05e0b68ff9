// Boxoffice door scanner: scan tickets with the camera or a keyboard-wedge scanner, answer in full screen, and keep
// working without a network.
//
// Pairing: the pairing link is /door/#list=<list id>&token=<device token>; the fragment never reaches a server. The
// page keeps both in localStorage and sends the token as a Bearer token on its API calls.
// Offline: the list's offline copy (ticket ids, SHA-256 digests of their codes, states, admissions) lives in
// IndexedDB and is refreshed while online. Without a network the page decides from it, queues what it admitted and
// uploads the queue, with each scan's time, when the network is back. A service worker keeps the page itself.
// Live counts: the list's SSE stream, read with fetch (EventSource cannot send the token).
(function () {
  "use strict";

  var TOKEN_KEY = "boxoffice.door.token";
  var LIST_KEY = "boxoffice.door.list";
  var DB_NAME = "boxoffice-door";
  var ANSWER_MS = 2500;
  var SAME_CODE_MS = 4000;
  var REFRESH_MS = 30000;
  var FLUSH_MS = 5000;
  var SCAN_TIMEOUT_MS = 4000;  // a scan not answered by then is decided on the phone (its nonce makes a late
                               // answer and the later upload the same check-in)

  var root = document.getElementById("door");
  if (!root) { return; }
  var words = JSON.parse(root.getAttribute("data-words") || "{}");
  var $ = function (id) { return document.getElementById(id); };

  // -- pairing ------------------------------------------------------------------------------------------------

  function readPairing() {
    var hash = window.location.hash.replace(/^#/, "");
    if (!hash) { return; }
    var params = new URLSearchParams(hash);
    var token = params.get("token");
    var list = params.get("list");
    if (token && list) {
      localStorage.setItem(TOKEN_KEY, token);
      localStorage.setItem(LIST_KEY, list);
    }
    history.replaceState(null, "", window.location.pathname);  // the token leaves the address bar at once
  }

  readPairing();
  var token = localStorage.getItem(TOKEN_KEY);
  var listId = localStorage.getItem(LIST_KEY);

  var paired = true;

  function showUnpaired(revoked) {
    paired = false;
    $("scanner").hidden = true;
    $("unpaired").hidden = false;
    $("revoked").hidden = !revoked;
    if (revoked) { forget(); }
  }

  // A refused token (401: revoked, or its console session ended): nothing of it stays on the phone, neither the
  // token nor the offline copy (holders' names) nor scans not uploaded (they could not be, with this token).
  function forget() {
    token = null;
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(LIST_KEY);
    copy = null;
    queue = [];
    if (scanning) { stopCamera(); }
    if (liveAbort) { liveAbort.abort(); }
    ["copies", "queue"].forEach(function (name) {
      store(name, "readwrite", function (s) { return s.clear(); }).catch(function () {});
    });
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(root.getAttribute("data-sw"), { scope: "/door/" }).catch(function () {});
  }
  if (!token || !listId) { showUnpaired(false); return; }
  $("scanner").hidden = false;

  // -- IndexedDB: the copy and the queue -------------------------------------------------------------------------

  var dbPromise = new Promise(function (resolve, reject) {
    var open = indexedDB.open(DB_NAME, 1);
    open.onupgradeneeded = function () {
      open.result.createObjectStore("copies", { keyPath: "list_id" });
      open.result.createObjectStore("queue", { keyPath: "nonce" });
    };
    open.onsuccess = function () { resolve(open.result); };
    open.onerror = function () { reject(open.error); };
  });

  function store(name, mode, action) {
    return dbPromise.then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(name, mode);
        var result = action(tx.objectStore(name));
        tx.oncomplete = function () { resolve(result && "result" in result ? result.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }

  // -- state -------------------------------------------------------------------------------------------------------

  var copy = null;          // {version, list, event, device, types: {id: title}, byDigest: {}, byId: {}}
  var queue = [];           // scans admitted offline, waiting to upload (oldest first)
  var server = { checked_in: 0, total: 0, duplicates: 0 };
  var online = navigator.onLine !== false;

  function setOnline(value) {
    online = value;
    var el = $("connection");
    el.setAttribute("data-state", value ? "online" : "offline");
    el.textContent = value ? "Online" : "Offline: deciding on this phone";
  }

  function renderCounts() {
    $("checked-in").textContent = String(server.checked_in + queue.length);
    $("total").textContent = String(server.total);
    $("duplicates").textContent = String(server.duplicates);
    $("duplicates-line").hidden = !server.duplicates;
    $("pending").textContent = String(queue.length);
    $("pending-line").hidden = !queue.length;
  }

  function renderCopy() {
    if (!copy) { return; }
    root.setAttribute("data-copy-version", copy.version);
    $("event-title").textContent = copy.event.title;
    $("list-name").textContent = copy.list.name;
    $("device-label").textContent = copy.device ? "This phone: " + copy.device.label : "";
    $("copy-note").textContent = "Offline copy: " + Object.keys(copy.byId).length + " tickets, updated " +
      new Date(copy.fetched_at).toLocaleTimeString();
    if (!server.total) {
      server.total = Object.keys(copy.byId).filter(function (id) { return copy.byId[id].state === "ok"; }).length;
      renderCounts();
    }
  }

  function indexCopy(raw) {
    var byDigest = {}, byId = {}, types = {};
    raw.ticket_types.forEach(function (t) { types[t.id] = t.title; });
    raw.tickets.forEach(function (t) { byDigest[t.digest] = t; byId[t.id] = t; });
    return { version: raw.version, list: raw.list, event: raw.event, device: raw.device, types: types,
             byDigest: byDigest, byId: byId, fetched_at: raw.fetched_at || Date.now(), raw: raw };
  }

  function saveCopy() {
    if (!copy || !paired) { return Promise.resolve(); }
    var raw = copy.raw;
    raw.tickets = Object.keys(copy.byId).map(function (id) { return copy.byId[id]; });
    raw.fetched_at = copy.fetched_at;
    return store("copies", "readwrite", function (s) { return s.put(Object.assign({ list_id: listId }, raw)); });
  }

  // -- the API -----------------------------------------------------------------------------------------------------

  function api(path, options) {
    options = options || {};
    if (!paired) { return Promise.reject(new Error("unauthorized")); }
    var headers = Object.assign({ Authorization: "Bearer " + token }, options.headers || {});
    if (options.body) { headers["Content-Type"] = "application/json"; }
    var init = Object.assign({}, options, { headers: headers, cache: "no-store" });
    var timer = null;
    if (options.timeout && window.AbortController) {
      var abort = new AbortController();
      init.signal = abort.signal;
      timer = setTimeout(function () { abort.abort(); }, options.timeout);
    }
    delete init.timeout;
    return fetch("/api/v1" + path, init)
      .then(function (response) {
        clearTimeout(timer);
        setOnline(true);
        if (response.status === 401) { showUnpaired(true); throw new Error("unauthorized"); }
        return response;
      }, function (error) { clearTimeout(timer); setOnline(false); throw error; });
  }

  function refreshCopy() {
    var headers = copy ? { "If-None-Match": '"' + copy.version + '"' } : {};
    return api("/checkin-lists/" + encodeURIComponent(listId) + "/offline", { headers: headers })
      .then(function (response) {
        if (response.status === 304) { copy.fetched_at = Date.now(); renderCopy(); return null; }
        if (!response.ok) { return null; }
        return response.json().then(function (raw) {
          raw.fetched_at = Date.now();
          copy = indexCopy(raw);
          queue.forEach(markQueued);  // what this phone admitted and has not uploaded yet stays admitted
          renderCopy();
          return saveCopy();
        });
      }).catch(function () {});
  }

  function markQueued(item) {
    var ticket = item.ticket_id && copy ? copy.byId[item.ticket_id] : null;
    if (ticket && !ticket.checked_in_at) { ticket.checked_in_at = item.scanned_at; }
  }

  // -- answers ------------------------------------------------------------------------------------------------------

  var answerTimer = null;
  var audio = null;

  function signal(ok) {
    if (navigator.vibrate) { navigator.vibrate(ok ? 120 : [300, 100, 300]); }
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = ok ? 880 : 220;
      gain.gain.value = 0.2;
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + (ok ? 0.15 : 0.5));
    } catch (e) { /* no sound on this device */ }
  }

  function showAnswer(answer) {
    var box = $("answer");
    box.className = "answer " + (answer.ok ? "ok" : "refused");
    box.setAttribute("data-result", answer.result);
    $("answer-title").textContent = answer.ok ? "Welcome" : (words[answer.result] || answer.result);
    $("answer-name").textContent = answer.name || "";
    $("answer-type").textContent = answer.type || "";
    $("answer-more").textContent = answer.more || "";
    box.hidden = false;
    box.focus();
    signal(answer.ok);
    clearTimeout(answerTimer);
    answerTimer = setTimeout(hideAnswer, ANSWER_MS);
  }

  function hideAnswer() {
    clearTimeout(answerTimer);
    $("answer").hidden = true;
    $("code").focus();
  }

  $("answer").addEventListener("click", hideAnswer);
  document.addEventListener("keydown", function (e) {
    if (!$("answer").hidden && (e.key === "Escape" || e.key === "Enter")) { e.preventDefault(); hideAnswer(); }
  });

  function time(iso) {
    return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  }

  function fromServer(status, body) {
    var ticket = body.ticket || {};
    var answer = { ok: status === 201, result: body.result || "invalid", name: ticket.holder_name,
                   type: ticket.ticket_type, more: "" };
    if (body.first_checkin) {
      answer.more = "First in at " + time(body.first_checkin.checked_in_at) +
        (body.first_checkin.device ? ", " + body.first_checkin.device : "");
    }
    return answer;
  }

  // -- scanning -----------------------------------------------------------------------------------------------------

  function nonce() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function sha256(text) {
    if (!(window.crypto && crypto.subtle)) { return Promise.resolve(null); }  // only over HTTPS (or localhost)
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then(function (buffer) {
      return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
        return ("0" + b.toString(16)).slice(-2);
      }).join("");
    });
  }

  function listOpen(at) {
    var list = copy.list;
    if (list.starts_at && at < new Date(list.starts_at)) { return false; }
    return !(list.ends_at && at >= new Date(list.ends_at));
  }

  function decideHere(ticket, item) {
    if (!copy) { return { ok: false, result: "invalid", more: "No offline copy on this phone yet" }; }
    if (!ticket) { return { ok: false, result: "invalid", more: "Checked on this phone (offline)" }; }
    var answer = { ok: false, result: ticket.state, name: ticket.holder_name, type: copy.types[ticket.ticket_type_id] };
    if (ticket.state !== "ok") { return answer; }
    if (!listOpen(new Date(item.scanned_at))) { answer.result = "outside_window"; return answer; }
    if (ticket.checked_in_at) {
      answer.result = "already_checked_in";
      answer.more = "First in at " + time(ticket.checked_in_at);
      return answer;
    }
    ticket.checked_in_at = item.scanned_at;
    item.ticket_id = ticket.id;
    item.list_id = listId;
    queue.push(item);
    store("queue", "readwrite", function (s) { return s.put(item); });
    saveCopy();
    renderCounts();
    answer.ok = true;
    answer.result = "ok";
    answer.more = "Admitted offline: uploads when the network is back";
    return answer;
  }

  function applyAnswer(body) {
    var ticket = body.ticket && copy ? copy.byId[body.ticket.id] : null;
    if (ticket && (body.result === "ok" || body.result === "already_checked_in") && !ticket.checked_in_at) {
      ticket.checked_in_at = body.checked_in_at || (body.first_checkin && body.first_checkin.checked_in_at);
      saveCopy();
    }
  }

  function submitScan(item) {
    // item: {nonce, code | ticket_id, scanned_at}; online first, else decided here from the copy
    var payload = { nonce: item.nonce };
    if (item.code) { payload.code = item.code; } else { payload.ticket_id = item.ticket_id; }
    return api("/checkin-lists/" + encodeURIComponent(listId) + "/scans",
               { method: "POST", body: JSON.stringify(payload), timeout: SCAN_TIMEOUT_MS })
      .then(function (response) {
        if (response.status !== 201 && response.status !== 409 && response.status !== 422) {
          throw new Error("answer " + response.status);
        }
        return response.json().then(function (body) {
          applyAnswer(body);
          showAnswer(fromServer(response.status, body));
        });
      })
      .catch(function (error) {
        if (error && error.message === "unauthorized") { return; }
        var lookup = item.code ? sha256(item.code) : Promise.resolve(null);
        return lookup.then(function (digest) {
          var ticket = copy ? (item.ticket_id ? copy.byId[item.ticket_id] : copy.byDigest[digest]) : null;
          showAnswer(decideHere(ticket, item));
        });
      });
  }

  var lastCode = "", lastAt = 0;

  function scanCode(raw) {
    var code = String(raw || "").trim();
    if (!code || !$("answer").hidden) { return; }
    if (code === lastCode && Date.now() - lastAt < SAME_CODE_MS) { return; }  // the camera sees it again
    lastCode = code; lastAt = Date.now();
    submitScan({ nonce: nonce(), code: code, scanned_at: new Date().toISOString() });
  }

  $("scan-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var field = $("code");
    var value = field.value;
    field.value = "";
    lastCode = "";  // typed or from a wedge scanner: always checked
    scanCode(value);
  });

  // -- the upload of offline scans ------------------------------------------------------------------------------

  var flushing = false;

  function flush() {
    if (flushing || !queue.length || !paired) { return Promise.resolve(); }
    flushing = true;
    var item = queue[0];
    var payload = { nonce: item.nonce, scanned_at: item.scanned_at };
    if (item.code) { payload.code = item.code; } else { payload.ticket_id = item.ticket_id; }
    return api("/checkin-lists/" + encodeURIComponent(listId) + "/scans",
               { method: "POST", body: JSON.stringify(payload) })
      .then(function (response) {
        if (response.status !== 201 && response.status !== 409 && response.status !== 422) {
          throw new Error("answer " + response.status);
        }
        queue.shift();
        renderCounts();
        return store("queue", "readwrite", function (s) { return s.delete(item.nonce); });
      })
      .then(function () { flushing = false; return flush(); }, function () { flushing = false; });
  }

  // -- live counts (SSE over fetch) --------------------------------------------------------------------------------

  function onMessage(message) {
    // the counts are the latest checkin.status (the stream sends it again after check-ins); the single check-ins
    // keep this phone's copy current for deciding offline
    if (message.type === "checkin.status") {
      server = { checked_in: message.checked_in, total: message.total, duplicates: message.duplicates };
      // "again": sent after live messages may have been lost (a broker reconnect, a backlog): reload the copy
      if (message.again) { refreshCopy(); }
    } else if (message.type === "checkin.created" && !message.duplicate) {
      var ticket = copy && copy.byId[message.ticket_id];
      if (ticket && !ticket.checked_in_at) { ticket.checked_in_at = message.scanned_at; }
    } else if (message.type === "checkin.undone" && !message.duplicate) {
      var undone = copy && copy.byId[message.ticket_id];
      if (undone) { undone.checked_in_at = null; }
    }
    renderCounts();
  }

  var liveAbort = null;

  function live() {
    if (navigator.onLine === false) { setTimeout(live, 2000); return; }  // back with the network
    liveAbort = window.AbortController ? new AbortController() : null;
    api("/checkin-lists/" + encodeURIComponent(listId) + "/stream",
        { headers: { Accept: "text/event-stream" }, signal: liveAbort ? liveAbort.signal : undefined })
      .then(function (response) {
        if (!response.ok || !response.body) { throw new Error("no stream"); }
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) { throw new Error("stream ended"); }
            buffer += decoder.decode(chunk.value, { stream: true });
            var frames = buffer.split("\n\n");
            buffer = frames.pop();
            frames.forEach(function (frame) {
              frame.split("\n").forEach(function (line) {
                if (line.indexOf("data: ") === 0) { onMessage(JSON.parse(line.slice(6))); }
              });
            });
            return pump();
          });
        }
        return pump();
      })
      .catch(function () {})
      .then(function () { if (paired) { setTimeout(live, online ? 3000 : 5000); } });
  }

  // -- camera ------------------------------------------------------------------------------------------------------

  var stream = null, detector = null, scanning = false;

  function startCamera() {
    if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) {
      $("camera-note").textContent = "This browser offers no camera here: use the code field.";
      $("camera-note").hidden = false;
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (media) {
        stream = media;
        var video = $("camera");
        video.srcObject = media;
        video.hidden = false;
        return video.play();
      })
      .then(function () {
        if ("BarcodeDetector" in window) {
          return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
            if (formats.indexOf("qr_code") >= 0) { detector = new window.BarcodeDetector({ formats: ["qr_code"] }); }
          });
        }
      })
      .then(function () {
        scanning = true;
        $("camera-toggle").textContent = "Stop camera";
        $("camera").setAttribute("data-decoder", detector ? "barcode-detector" : "jsqr");
        tick();
      })
      .catch(function (error) {
        $("camera-note").textContent = "No camera: " + (error && error.name ? error.name : "not allowed");
        $("camera-note").hidden = false;
      });
  }

  function stopCamera() {
    scanning = false;
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
    stream = null;
    $("camera").hidden = true;
    $("camera-toggle").textContent = "Start camera";
  }

  function decodeFrame(video) {
    if (detector) {
      return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
    }
    var canvas = $("frame");
    var scale = Math.min(1, 640 / (video.videoWidth || 640));
    canvas.width = Math.floor((video.videoWidth || 640) * scale);
    canvas.height = Math.floor((video.videoHeight || 480) * scale);
    var context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    var image = context.getImageData(0, 0, canvas.width, canvas.height);
    var found = window.jsQR ? window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" })
      : null;
    return Promise.resolve(found ? found.data : null);
  }

  function tick() {
    if (!scanning) { return; }
    var video = $("camera");
    var next = function () { setTimeout(tick, 150); };
    if (video.readyState < 2 || !$("answer").hidden) { next(); return; }
    decodeFrame(video).then(function (code) { if (code) { scanCode(code); } }, function () {}).then(next);
  }

  $("camera-toggle").addEventListener("click", function () { if (scanning) { stopCamera(); } else { startCamera(); } });

  // -- manual search -----------------------------------------------------------------------------------------------

  function renderResults(found, offline) {
    var list = $("results");
    list.textContent = "";
    $("search-note").hidden = !offline && found.length > 0;
    $("search-note").textContent = offline ? "Offline: searched this phone's copy (names and orders)"
      : "Nobody found";
    found.forEach(function (a) {
      var item = document.createElement("li");
      var label = document.createElement("span");
      label.textContent = a.holder_name + " · " + a.ticket_type + " · " + a.order_id;
      item.appendChild(label);
      if (a.result === "ok") {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = "Check in";
        button.addEventListener("click", function () {
          submitScan({ nonce: nonce(), ticket_id: a.ticket_id, scanned_at: new Date().toISOString() });
        });
        item.appendChild(button);
      } else {
        var state = document.createElement("em");
        state.textContent = words[a.result] || a.result;
        item.appendChild(state);
      }
      list.appendChild(item);
    });
  }

  function searchHere(q) {
    var needle = q.toLowerCase();
    return Object.keys(copy ? copy.byId : {}).map(function (id) { return copy.byId[id]; })
      .filter(function (t) { return t.holder_name.toLowerCase().indexOf(needle) >= 0 || t.order_id === q; })
      .slice(0, 20)
      .map(function (t) {
        return { ticket_id: t.id, holder_name: t.holder_name, order_id: t.order_id,
                 ticket_type: copy.types[t.ticket_type_id], result: t.state === "ok" && t.checked_in_at ?
                 "already_checked_in" : t.state };
      });
  }

  $("search-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var q = $("q").value.trim();
    if (q.length < 2) { return; }
    api("/checkin-lists/" + encodeURIComponent(listId) + "/attendees?q=" + encodeURIComponent(q))
      .then(function (response) { return response.ok ? response.json() : Promise.reject(new Error("search")); })
      .then(function (found) { renderResults(found, false); }, function () { renderResults(searchHere(q), true); });
  });

  $("unpair").addEventListener("click", function () {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(LIST_KEY);
    Promise.all([store("copies", "readwrite", function (s) { return s.clear(); }),
                 store("queue", "readwrite", function (s) { return s.clear(); })])
      .then(function () { window.location.reload(); });
  });

  // -- start -------------------------------------------------------------------------------------------------------

  window.addEventListener("online", function () { setOnline(true); flush().then(refreshCopy); });
  window.addEventListener("offline", function () {
    setOnline(false);
    if (liveAbort) { liveAbort.abort(); }  // a stream the browser keeps open would pretend to be live
  });

  Promise.all([
    store("copies", "readonly", function (s) { return s.get(listId); }),
    store("queue", "readonly", function (s) { return s.getAll(); }),
  ]).then(function (loaded) {
    if (loaded[0]) { copy = indexCopy(loaded[0]); }
    queue = (loaded[1] || []).filter(function (item) { return item.list_id === listId; })
      .sort(function (a, b) { return a.scanned_at < b.scanned_at ? -1 : 1; });
    if (copy) { queue.forEach(markQueued); renderCopy(); }
    renderCounts();
    setOnline(online);
    return flush().then(refreshCopy);
  }).then(function () {
    live();
    setInterval(function () { flush().then(refreshCopy); }, REFRESH_MS);
    setInterval(flush, FLUSH_MS);
  });
  root.setAttribute("data-ready", "true");
})();
