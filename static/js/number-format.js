/* A metric's number format and its currency: the Currency select is shown only while the
 * number format is "currency", and comes back (with the currency it had) when the format
 * changes back. It is hidden, never cleared or disabled, so the form still posts it and the
 * saved currency is kept. Without this file the select simply stays visible.
 *
 * A field shown for one format names it: <select data-shown-for-format="currency">, in a
 * form with a number_format select; its .field wrapper is what hides.
 * htmx may run this file again when it swaps a step in; the listeners are added once. */
(function () {
  "use strict";

  function show(root) {
    var dependents = (root.querySelectorAll ? root : document).querySelectorAll("[data-shown-for-format]");
    Array.prototype.forEach.call(dependents, function (element) {
      var format = element.form && element.form.elements.namedItem("number_format");
      if (!format) { return; }
      var wrapper = element.closest(".field") || element;
      wrapper.hidden = format.value !== element.getAttribute("data-shown-for-format");
    });
  }

  function start() { show(document); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }

  if (window.metricNumberFormat) { return; }
  window.metricNumberFormat = true;
  document.addEventListener("change", function (event) {
    if (event.target.name === "number_format" && event.target.form) { show(event.target.form); }
  });
  document.addEventListener("htmx:load", function (event) { show(event.target); });
})();
