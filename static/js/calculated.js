/* New calculated metric: choosing an input's metric fills its empty name with one made from
 * the metric's name ("Deals won (amount)" -> deals_won_amount), as the server does for a name
 * left empty (builder.formulas.suggest_name). A name the analyst typed is never replaced.
 * Without this file the server still suggests the names on save. */
(function () {
  "use strict";

  function suggest(text, taken) {
    var base = text.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 40) || "input";
    if (/^[0-9]/.test(base)) { base = ("m_" + base).slice(0, 40); }
    var name = base, number = 2;
    while (taken.indexOf(name) !== -1) { name = base.slice(0, 40 - String(number).length - 1) + "_" + number; number += 1; }
    return name;
  }

  function start() {
    var table = document.querySelector("[data-suggest-names]");
    if (!table) { return; }
    table.addEventListener("change", function (event) {
      var select = event.target;
      if (select.tagName !== "SELECT") { return; }
      var row = select.closest("tr");
      var input = row && row.querySelector("input[type=text]");
      if (!input || input.value.trim() || !select.value) { return; }
      var taken = Array.prototype.map.call(table.querySelectorAll("input[type=text]"), function (field) {
        return field.value.trim();
      });
      input.value = suggest(select.options[select.selectedIndex].text, taken);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
