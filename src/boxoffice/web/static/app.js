// Boxoffice buyer pages: the running total, live availability and live order status.
// Everything else works without JavaScript: the form posts normally and the server computes the total.
(function () {
  "use strict";

  // -- money (mirrors boxoffice.money.format_money and pages.parse_amount) ------------------------------------

  function formatMinor(minor, exponent, pattern) {
    var negative = minor < 0;
    var value = Math.abs(Math.round(minor));
    var base = Math.pow(10, exponent);
    var text = String(Math.floor(value / base)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    if (exponent > 0) {
      var frac = String(value % base);
      while (frac.length < exponent) { frac = "0" + frac; }
      text += "." + frac;
    }
    return (negative ? "-" : "") + pattern.replace("{n}", text);
  }

  // The amount in minor units, null when empty, NaN when it is not an amount.
  function parseAmount(text, exponent, currency) {
    var value = String(text || "").replace(/\s+/g, "").replace(/^[$€£¥₩₹]+/, "");
    if (currency && value.toLowerCase().slice(-currency.length) === currency.toLowerCase()) {
      value = value.slice(0, -currency.length);
    }
    if (!value) { return null; }
    if (value.indexOf(",") >= 0 && value.indexOf(".") >= 0) {
      value = value.replace(/,/g, "");
    } else if (value.indexOf(",") >= 0) {
      var at = value.lastIndexOf(","), head = value.slice(0, at), tail = value.slice(at + 1);
      value = exponent && tail.length <= exponent && head.indexOf(",") < 0 ? head + "." + tail : value.replace(/,/g, "");
    }
    var match = /^(\d*)(?:\.(\d*))?$/.exec(value);
    if (!match || (match[1] === "" && !match[2])) { return NaN; }
    var frac = match[2] || "";
    frac = frac.replace(/0+$/, "");
    if (frac.length > exponent) { return NaN; }
    while (frac.length < exponent) { frac += "0"; }
    return parseInt((match[1] || "0") + frac, 10);
  }

  // -- event page ---------------------------------------------------------------------------------------------

  function eventPage(article) {
    var form = article.querySelector("form.checkout");
    var recompute = function () {};
    if (form) {
      var exponent = parseInt(form.getAttribute("data-exponent"), 10) || 0;
      var currency = form.getAttribute("data-currency") || "";
      var pattern = form.getAttribute("data-money-pattern") || "{n}";
      var total = form.querySelector("#total");
      var row = form.querySelector("[data-total-row]");
      var tipInput = form.querySelector("#tip");
      var tipField = form.querySelector("[data-tip-field]");
      recompute = function () {
        if (!total) { return; }
        var sum = 0;
        var tippableChosen = false;
        form.querySelectorAll("fieldset.ticket").forEach(function (ticket) {
          var qtyInput = ticket.querySelector("input[name^='qty_']");
          var qty = qtyInput && !qtyInput.disabled ? parseInt(qtyInput.value, 10) : 0;
          var own = ticket.querySelector("input[name^='price_']");
          var chosen = own ? parseAmount(own.value, exponent, currency) : null;
          var warning = ticket.querySelector("[data-below-minimum]");
          if (warning) {
            // a pay-what-you-want price below the minimum is named next to its field before Checkout
            var minimum = parseInt(ticket.getAttribute("data-minimum"), 10) || 0;
            var below = qty > 0 && chosen !== null && !isNaN(chosen) && chosen < minimum;
            var text = below ? "At least " + formatMinor(minimum, exponent, pattern) + " per ticket" : "";
            if (warning.textContent !== text) { warning.textContent = text; }
            warning.hidden = !below;
          }
          if (!(qty > 0)) { return; }
          if (ticket.getAttribute("data-tippable") === "true") { tippableChosen = true; }
          var unit = parseInt(ticket.getAttribute("data-price"), 10) || 0;
          if (own) { unit = chosen === null || isNaN(chosen) ? 0 : chosen; }
          sum += qty * unit;
        });
        if (tipInput) {
          // the order's one tip: offered once a ticket that accepts tips is chosen (or when it already has a value)
          if (tipField) { tipField.hidden = !tippableChosen && !tipInput.value && !tipField.querySelector(".field-error"); }
          var tipAmount = parseAmount(tipInput.value, exponent, currency);
          if (tippableChosen && tipAmount !== null && !isNaN(tipAmount)) { sum += tipAmount; }
        }
        var text = formatMinor(sum, exponent, pattern);
        if (total.textContent !== text) { total.textContent = text; }
      };
      if (row) { row.hidden = false; }
      form.addEventListener("input", recompute);
      form.addEventListener("change", recompute);
      recompute();
    }

    var stream = article.getAttribute("data-stream");
    if (!stream || !window.EventSource) { return; }
    var onAvailability = function (message) {
      var data;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      if (!data || !data.ticket_types) { return; }
      data.ticket_types.forEach(function (t) {
        if (typeof t.available !== "number") { return; }
        var ticket = article.querySelector("fieldset.ticket[data-ticket='" + t.id + "']");
        var left = article.querySelector("[data-left='" + t.id + "']");
        if (!ticket || !left) { return; }
        var state = ticket.getAttribute("data-state");
        if (state !== "on_sale" && state !== "sold_out") { return; }  // not yet on sale: keep the opening date
        // with a code: the tickets set aside for it count for its holder
        var available = Math.max(t.available, 0) + (parseInt(ticket.getAttribute("data-code-held"), 10) || 0);
        var text = available > 0 ? available + " left" : "Sold out";
        if (left.textContent !== text) { left.textContent = text; }  // announce changes only
        left.classList.toggle("none", available <= 0);
        ticket.setAttribute("data-state", available > 0 ? "on_sale" : "sold_out");
        var perOrder = parseInt(ticket.getAttribute("data-per-order"), 10) || available;
        ticket.querySelectorAll("input").forEach(function (input) {
          input.disabled = available <= 0;
          if (input.name.indexOf("qty_") === 0) { input.max = String(Math.min(perOrder, available)); }
        });
      });
      recompute();
    };
    var source = new EventSource(stream);
    ["availability", "snapshot", "message"].forEach(function (name) {
      source.addEventListener(name, onAvailability);
    });
  }

  // -- order page ---------------------------------------------------------------------------------------------

  var STATUS_TEXT = {
    pending: "Awaiting payment", confirmed: "Confirmed", canceled: "Canceled", expired: "Expired",
    failed: "Payment failed", refunded: "Refunded", partially_refunded: "Partially refunded"
  };
  var ORDER_EVENTS = ["message", "order.snapshot", "order.created", "order.pending", "order.confirmed",
    "order.canceled", "order.expired", "order.failed", "order.refunded", "order.partially_refunded"];

  function orderPage(article) {
    var stream = article.getAttribute("data-stream");
    if (!stream || !window.EventSource) { return; }
    var generation = 0;

    // Bring the page's regions up to date (tickets, actions, totals) without reloading it. The live region
    // keeps its element so that screen readers announce its new content.
    var refresh = function () {
      var mine = ++generation;
      fetch(window.location.href, { headers: { "Accept": "text/html" }, cache: "no-store", credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html || mine !== generation) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html");
          article.querySelectorAll("[data-region]").forEach(function (region) {
            var replacement = fresh.getElementById(region.id);
            if (replacement && replacement.innerHTML !== region.innerHTML) {
              region.className = replacement.className;
              region.innerHTML = replacement.innerHTML;
            }
          });
        })
        .catch(function () { /* the next status message tries again */ });
    };

    var onStatus = function (message) {
      var data;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      if (!data || typeof data.status !== "string") { return; }
      var status = article.querySelector("#order-status");
      if (!status || status.getAttribute("data-status") === data.status) { return; }
      status.setAttribute("data-status", data.status);
      status.textContent = STATUS_TEXT[data.status] || data.status;
      refresh();
    };
    var source = new EventSource(stream);
    ORDER_EVENTS.forEach(function (name) { source.addEventListener(name, onStatus); });
  }

  // -- error summary ------------------------------------------------------------------------------------------

  function errorSummary(summary) {
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[href^='#']") : null;
      if (!link) { return; }
      var input = document.getElementById(link.getAttribute("href").slice(1));
      if (!input || input.disabled) { return; }
      event.preventDefault();
      var label = document.querySelector("label[for='" + input.id + "']");
      (label || input).scrollIntoView({ block: "center" });
      input.focus({ preventScroll: true });
    });
  }

  function start() {
    var event = document.querySelector("article[data-event-id]");
    if (event) { eventPage(event); }
    var order = document.querySelector("article[data-order-id]");
    if (order) { orderPage(order); }
    var summary = document.getElementById("error-summary");
    if (summary) { errorSummary(summary); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
