/*
 * Behaviour every page shares, loaded by base.html. No inline scripts or event handlers
 * anywhere (the Content-Security-Policy allows scripts from this site only), so pages mark
 * elements with data attributes and this file wires them up:
 *
 *   <form data-confirm="Delete …?">      asks before a destructive form is sent
 *   <input data-select-on-focus>         selects its whole text on focus (one-time secrets)
 *   <button data-copy="input-id" hidden>  shown, and copies the input's text when pressed
 *   <button data-nav-toggle aria-controls="nav-id">  on narrow screens, shows and hides the
 *                                        navigation (without JavaScript it stays open)
 *
 * Without JavaScript the forms still work; they just do not ask first, and a secret is
 * selected and copied by hand.
 */
(function () {
  "use strict";

  function confirmBeforeSubmit(form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  }

  function selectOnFocus(input) {
    input.addEventListener("focus", function () { input.select(); });
  }

  function copyButton(button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) { return; }
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      input.focus();
      input.select();
      var copied = navigator.clipboard && window.isSecureContext
        ? navigator.clipboard.writeText(input.value)
        : Promise.resolve(document.execCommand("copy"));
      copied.then(function () {
        button.textContent = "Copied";
        window.setTimeout(function () { button.textContent = label; }, 2000);
      }, function () {
        button.textContent = "Press Ctrl+C to copy";
      });
    });
  }

  function navToggle(button) {
    var nav = document.getElementById(button.getAttribute("aria-controls"));
    if (!nav) { return; }
    document.documentElement.classList.add("js-nav");
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      nav.classList.toggle("open", open);
    });
  }

  function each(selector, wire) {
    var elements = document.querySelectorAll(selector);
    for (var i = 0; i < elements.length; i++) { wire(elements[i]); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    each("form[data-confirm]", confirmBeforeSubmit);
    each("[data-select-on-focus]", selectOnFocus);
    each("button[data-copy]", copyButton);
    each("button[data-nav-toggle]", navToggle);
  });
})();
