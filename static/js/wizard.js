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
    var typed = typedStore(textarea.getAttribute("data-draft"));
    editor.on("change", function () {
      editor.save();
      typed.remember(editor.getValue());
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    });
    // The evaluation saves the expression on the draft: once answered, the draft holds it.
    var sent = null;
    document.body.addEventListener("htmx:configRequest", function (event) {
      if (event.detail.elt === textarea) { sent = event.detail.parameters.expression; }
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.elt === textarea && event.detail.successful) { typed.saved(sent); }
    });
    document.body.addEventListener("htmx:afterSettle", function (event) {
      if (event.detail && event.detail.elt && event.detail.elt.id === "evaluation") { markError(editor); }
    });
    // The error's fix: the corrected expression goes into the editor, which evaluates it.
    document.body.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("[data-jsonata-fix]") : null;
      if (!button) { return; }
      event.preventDefault();
      editor.setValue(button.value);
      editor.focus();
      editor.setCursor(editor.lineCount(), 0);
    });
    // Typed in the last moments before a reload and not evaluated yet: put it back (and evaluate it).
    // After load, so that htmx listens on the textarea by then.
    function restore() {
      var pending = typed.pending();
      if (pending !== null && pending !== editor.getValue()) { editor.setValue(pending); }
    }
    if (document.readyState === "complete") { restore(); } else { window.addEventListener("load", restore); }
    // A posted form saves the expression on the draft: nothing typed is left to put back.
    if (textarea.form) {
      textarea.form.addEventListener("submit", function () { editor.save(); typed.saved(editor.getValue()); });
    }
    markError(editor);
  }

  /* "Break down by": choosing a field applies it at once (the Apply button, for pages without JS). */
  function initBreakdown() {
    var select = document.querySelector("select[data-breakdown]");
    var apply = document.querySelector("[data-breakdown-apply]");
    if (!select || !apply || !select.form) { return; }
    var form = select.form;
    apply.remove();
    select.addEventListener("change", function () {
      var action = document.createElement("input");
      action.type = "hidden";
      action.name = "action";
      action.value = "breakdown";
      form.appendChild(action);
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    });
  }

  /* What was typed, per draft, in sessionStorage until an evaluation has saved it on the draft. */
  function typedStore(draft) {
    var key = "jsonata-typed:" + (draft || "");
    function read() {
      try { return JSON.parse(window.sessionStorage.getItem(key) || "null"); } catch (e) { return null; }
    }
    function write(value) {
      try { window.sessionStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* storage off: the draft still saves */ }
    }
    return {
      remember: function (text) { write({ text: text, saved: false }); },
      saved: function (text) {
        var entry = read();
        if (entry && entry.text === text) { write({ text: text, saved: true }); }
      },
      pending: function () {
        var entry = read();
        return entry && !entry.saved && draft ? entry.text : null;
      }
    };
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
    document.addEventListener("DOMContentLoaded", initBreakdown);
  } else {
    init();
    initBreakdown();
  }
})();
