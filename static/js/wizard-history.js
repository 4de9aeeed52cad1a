/* Every wizard step: a step page that answered a POST (Check, Evaluate, a form error) would be
 * posted again on reload, bringing back what was submitted then instead of what the draft holds.
 * Replacing the history entry turns the reload into a GET of the step, which shows the draft. */
(function () {
  "use strict";
  if (window.history && typeof window.history.replaceState === "function") {
    window.history.replaceState(window.history.state, "", window.location.href);
  }
})();
