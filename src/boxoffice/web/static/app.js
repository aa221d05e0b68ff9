// Live updates and the running total. Everything else works without JavaScript.
(function () {
  "use strict";

  function formatMoney(minor, currency, exponent) {
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: currency.toUpperCase(),
        minimumFractionDigits: exponent, maximumFractionDigits: exponent }).format(minor / Math.pow(10, exponent));
    } catch (e) {
      return (minor / Math.pow(10, exponent)).toFixed(exponent) + " " + currency.toUpperCase();
    }
  }

  function toMinor(text, exponent) {
    var value = parseFloat(String(text || "").replace(",", "."));
    return isFinite(value) && value > 0 ? Math.round(value * Math.pow(10, exponent)) : 0;
  }

  function eventPage(article) {
    var form = article.querySelector("form.order");
    if (form) {
      var currency = form.dataset.currency, exponent = parseInt(form.dataset.exponent, 10);
      var total = form.querySelector("#total");
      var recompute = function () {
        var sum = 0;
        form.querySelectorAll(".ticket").forEach(function (t) {
          var qty = parseInt((t.querySelector("input[type=number]") || {}).value || "0", 10) || 0;
          var price = parseInt(t.dataset.price, 10) || 0;
          var own = t.querySelector("input[name^=price_]");
          if (own) { price = toMinor(own.value, exponent); }
          sum += qty * price;
        });
        var tip = form.querySelector("#tip");
        if (tip) { sum += toMinor(tip.value, exponent); }
        total.textContent = formatMoney(sum, currency, exponent);
      };
      form.addEventListener("input", recompute);
      recompute();
    }
    if (!window.EventSource) { return; }
    var source = new EventSource(article.dataset.stream);
    source.addEventListener("availability", function (msg) {
      var data = JSON.parse(msg.data);
      (data.ticket_types || []).forEach(function (t) {
        var el = article.querySelector('[data-left="' + t.id + '"]');
        if (!el) { return; }
        el.textContent = t.available > 0 ? t.available + " left" : "Sold out";
        var qty = article.querySelector("#qty-" + t.id);
        if (qty) { qty.disabled = t.available <= 0; }
      });
    });
  }

  var STATUS_TEXT = {
    pending: "Awaiting payment", confirmed: "Confirmed", canceled: "Canceled", expired: "Expired",
    failed: "Payment failed", refunded: "Refunded", partially_refunded: "Partially refunded"
  };

  function orderPage(article) {
    if (!window.EventSource) { return; }
    var status = article.querySelector("#order-status");
    var source = new EventSource(article.dataset.stream);
    var onMessage = function (msg) {
      var data = JSON.parse(msg.data);
      if (!data.status || data.status === status.dataset.status) { return; }
      status.dataset.status = data.status;
      status.textContent = STATUS_TEXT[data.status] || data.status;
      // Bring in the tickets (and drop what only applied while pending) without reloading the page.
      fetch(window.location.href, { headers: { "Accept": "text/html" } }).then(function (r) { return r.text(); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("article[data-order-id]");
          if (!fresh) { return; }
          var notice = article.querySelector(".notice");
          if (notice && data.status !== "pending") { notice.remove(); }
          Array.prototype.slice.call(article.children).forEach(function (child) {
            if (!child.querySelector("#order-status") && child.id !== "order-status") { child.remove(); }
          });
          Array.prototype.slice.call(fresh.children).forEach(function (child) {
            if (child.querySelector("#order-status") || child.classList.contains("notice")) { return; }
            article.appendChild(child);
          });
          var statusLine = article.querySelector("#order-status").closest("p");
          article.insertBefore(article.querySelector("h1"), statusLine);
          article.insertBefore(article.querySelector(".when"), statusLine);
        });
    };
    ["order.snapshot", "order.pending", "order.confirmed", "order.canceled", "order.expired", "order.failed",
     "order.refunded", "order.partially_refunded"].forEach(function (name) { source.addEventListener(name, onMessage); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var event = document.querySelector("article[data-event-id]");
    if (event) { eventPage(event); }
    var order = document.querySelector("article[data-order-id]");
    if (order) { orderPage(order); }
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  });
})();
