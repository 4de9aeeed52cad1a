/* The Metric Builder wizard: the JSONata editor (CodeMirror 5 over a plain <textarea>).
 * Without this file (or without CodeMirror) the textarea is posted as it is, and htmx
 * still evaluates on input; with it, edits flow back into the textarea and trigger the
 * same debounced hx-post, and the error position the server reports is marked. */
(function () {
  "use strict";

  function markError(editor) {
    editor.getAllMarks().forEach(function (mark) { mark.clear(); });
    var section = document.getElementById("evaluation");
    if (!section) { return; }
    var position = parseInt(section.getAttribute("data-error-position"), 10);
    if (isNaN(position)) { return; }
    var length = editor.getValue().length;
    // JSONata reports the character just after the offending token; mark the one before it.
    var end = Math.min(Math.max(position, 1), length);
    var start = Math.max(end - 1, 0);
    if (start === end) { return; }
    editor.markText(editor.posFromIndex(start), editor.posFromIndex(end), {
      className: "cm-jsonata-error",
      attributes: { title: section.textContent.trim().slice(0, 200) }
    });
  }

  function init() {
    var textarea = document.querySelector("textarea[data-jsonata-editor]");
    if (!textarea || typeof window.CodeMirror === "undefined") { return; }
    var editor = window.CodeMirror.fromTextArea(textarea, {
      mode: { name: "javascript", json: false },
      lineNumbers: true,
      lineWrapping: true,
      matchBrackets: true,
      autoCloseBrackets: true,
      viewportMargin: Infinity
    });
    textarea.codeMirror = editor;
    editor.on("change", function () {
      editor.save();
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    });
    document.body.addEventListener("htmx:afterSettle", function (event) {
      if (event.detail && event.detail.elt && event.detail.elt.id === "evaluation") { markError(editor); }
    });
    markError(editor);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
