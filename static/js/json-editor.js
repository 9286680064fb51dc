/*
 * Enhances every <textarea data-json-editor> into a CodeMirror editor with JSON syntax
 * highlighting and live validation. The page works without it: the textarea is a plain
 * form field, and the server applies the same rules either way (it has the last word).
 * The behaviour of every page (confirmations and the like) lives in app.js.
 */
(function () {
  "use strict";
  if (!window.CodeMirror) { return; }

  var encoder = window.TextEncoder ? new TextEncoder() : null;

  function byteLength(text) {
    return encoder ? encoder.encode(text).length : unescape(encodeURIComponent(text)).length;
  }

  function depthOf(value) {
    // Containers count as levels: {} is 1, {"a": {}} is 2 (as the server counts).
    var deepest = 0, stack = [[value, 1]];
    while (stack.length) {
      var item = stack.pop(), v = item[0], d = item[1];
      if (v === null || typeof v !== "object") { continue; }
      if (d > deepest) { deepest = d; }
      var children = Array.isArray(v) ? v : Object.keys(v).map(function (k) { return v[k]; });
      for (var i = 0; i < children.length; i++) { stack.push([children[i], d + 1]); }
    }
    return deepest;
  }

  // The position of a JSON.parse error, from the engine's message ("at position 12" or
  // "(line 2 column 5)"), as a CodeMirror {line, ch}.
  function errorPosition(message, text) {
    var lineCol = /line (\d+) column (\d+)/.exec(message);
    if (lineCol) { return { line: +lineCol[1] - 1, ch: Math.max(+lineCol[2] - 1, 0) }; }
    var at = /position (\d+)/.exec(message);
    var offset = at ? Math.min(+at[1], text.length) : text.length;
    var before = text.slice(0, offset).split("\n");
    return { line: before.length - 1, ch: before[before.length - 1].length };
  }

  // The problems of a document, as CodeMirror lint annotations (the first one is shown).
  function check(text, maxBytes, maxDepth) {
    if (!text.trim()) {
      return [{ message: "The document is empty. Enter a JSON object, such as {}.", from: { line: 0, ch: 0 } }];
    }
    var value;
    try {
      value = JSON.parse(text);
    } catch (error) {
      var pos = errorPosition(String(error.message), text);
      return [{ message: "This is not valid JSON: " + error.message, from: pos, to: { line: pos.line, ch: pos.ch + 1 } }];
    }
    var whole = { from: { line: 0, ch: 0 }, to: { line: 0, ch: 1 } };
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      // The same words as the server's check (webapp/dashboard/user_page.py, _kind).
      var kind = value === null ? "null" : Array.isArray(value) ? "a list" : "a " + typeof value;
      return [Object.assign({ message: "The document must be a JSON object ({ … }), not " + kind + "." }, whole)];
    }
    if (maxBytes && byteLength(JSON.stringify(value)) > maxBytes) {
      return [Object.assign({ message: "The document exceeds " + maxBytes + " bytes." }, whole)];
    }
    if (maxDepth && depthOf(value) > maxDepth) {
      return [Object.assign({ message: "The document exceeds " + maxDepth + " levels of nesting." }, whole)];
    }
    return [];
  }

  function enhance(textarea) {
    var form = textarea.form;
    // The server's message about the text it was sent (templates/_forms.html, field()).
    var errorBox = document.getElementById(textarea.id + "-error");
    var serverMessage = errorBox ? errorBox.textContent : "";
    var maxBytes = parseInt(textarea.getAttribute("data-max-bytes"), 10) || 0;
    var maxDepth = parseInt(textarea.getAttribute("data-max-depth"), 10) || 0;

    // The live verdict under the editor; the linter reports into it from its first run,
    // which happens while the editor is being built.
    var status = document.createElement("p");
    status.className = "json-status small";
    status.setAttribute("aria-live", "polite");
    var dirty = false;

    var editor = CodeMirror.fromTextArea(textarea, {
      mode: { name: "javascript", json: true },
      lineNumbers: true,
      matchBrackets: true,
      autoCloseBrackets: true,
      tabSize: 2,
      indentUnit: 2,
      viewportMargin: Infinity,
      gutters: ["CodeMirror-lint-markers", "CodeMirror-linenumbers"],
      lint: {
        getAnnotations: function (text) {
          var problems = check(text, maxBytes, maxDepth);
          showStatus(problems);
          return problems.map(function (p) {
            return { message: p.message, severity: "error", from: CodeMirror.Pos(p.from.line, p.from.ch), to: CodeMirror.Pos((p.to || p.from).line, (p.to || p.from).ch) };
          });
        },
        delay: 250
      },
      extraKeys: { "Ctrl-S": submit, "Cmd-S": submit }
    });
    editor.getWrapperElement().setAttribute("data-json-editor-for", textarea.id);
    editor.getWrapperElement().insertAdjacentElement("afterend", status);

    editor.on("change", function () { dirty = true; });

    // One message at a time: the server's, until the text is edited; then the live check's.
    function showStatus(problems) {
      if (serverMessage && !dirty) {
        status.textContent = "";
        status.className = "json-status small";
        return;
      }
      if (problems.length) {
        status.textContent = problems[0].message;
        status.className = "json-status small invalid";
      } else {
        status.textContent = "Valid JSON object.";
        status.className = "json-status small valid";
      }
      if (errorBox) { errorBox.hidden = true; }
    }

    function submit() {
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    }

    form.addEventListener("submit", function (event) {
      editor.save();
      var problems = check(editor.getValue(), maxBytes, maxDepth);
      if (problems.length) {
        event.preventDefault();
        dirty = true;
        showStatus(problems);
        editor.focus();
        editor.setCursor(CodeMirror.Pos(problems[0].from.line, problems[0].from.ch));
      }
    });

    if (serverMessage) { editor.getWrapperElement().classList.add("has-error"); }
    textarea.jsonEditor = editor;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var areas = document.querySelectorAll("textarea[data-json-editor]");
    for (var i = 0; i < areas.length; i++) { enhance(areas[i]); }
  });
})();
