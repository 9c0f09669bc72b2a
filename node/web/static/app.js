// statenode web UI: the only script (CSP allows no inline code). Progressive enhancement only.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-action='print']")) {
    button.addEventListener("click", () => window.print());
  }
});
