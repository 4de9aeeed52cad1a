/* Every wizard step: a reload shows what was last typed.
 *
 * 1. A step page that answered a POST (Check, Evaluate, a form error) would be posted again on
 *    reload, bringing back what was submitted then instead of what the draft holds: replacing
 *    the history entry turns the reload into a GET of the step, which shows the draft.
 * 2. Text typed into a step's fields and not yet posted (every post stores the whole step on the
 *    draft) is kept in sessionStorage, per step, and put back on load. The JSONata editor keeps
 *    its own (wizard.js), since its live evaluation saves it.
 * htmx runs this file again when it swaps a step in; the listeners are added once. */
(function () {
  "use strict";
  if (window.history && typeof window.history.replaceState === "function") {
    window.history.replaceState(window.history.state, "", window.location.href);
  }
  if (window.metricWizardTyped) { return; }
  window.metricWizardTyped = true;

  var key = "wizard-typed:" + window.location.pathname;
  var TEXT = /^(text|search|url|email|number|tel|)$/;

  function kept(element) {
    if (!element || !element.name || !element.form || element.hasAttribute("data-jsonata-editor")) { return false; }
    if (element.tagName === "TEXTAREA") { return true; }
    return element.tagName === "INPUT" && TEXT.test(element.getAttribute("type") || "");
  }
  function read() {
    try { return JSON.parse(window.sessionStorage.getItem(key) || "{}") || {}; } catch (e) { return {}; }
  }
  function write(entry) {
    try {
      if (Object.keys(entry).length) { window.sessionStorage.setItem(key, JSON.stringify(entry)); }
      else { window.sessionStorage.removeItem(key); }
    } catch (e) { /* storage off: posting still stores everything */ }
  }

  document.addEventListener("input", function (event) {
    if (!kept(event.target)) { return; }
    var entry = read();
    entry[event.target.name] = event.target.value;
    write(entry);
  }, true);
  // A plain post stores the whole step on the draft.
  document.addEventListener("submit", function () { write({}); }, true);
  // So does an htmx post of the step's form: forget what it sent, keep what was typed meanwhile.
  document.addEventListener("htmx:afterRequest", function (event) {
    var detail = event.detail || {};
    var sent = detail.requestConfig && detail.requestConfig.parameters;
    if (!detail.successful || !sent) { return; }
    var entry = read();
    Object.keys(entry).forEach(function (name) {
      var value = typeof sent.get === "function" ? sent.get(name) : sent[name];
      if (value === entry[name]) { delete entry[name]; }
    });
    write(entry);
  });

  function restore() {
    var entry = read();
    Object.keys(entry).forEach(function (name) {
      var element = document.querySelector("form [name=\"" + name.replace(/["\\]/g, "\\$&") + "\"]");
      if (kept(element) && element.value !== entry[name]) { element.value = entry[name]; }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", restore); }
  else { restore(); }
})();
