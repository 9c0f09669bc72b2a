// statenode web UI: the only script besides search.js (CSP allows no inline code).
// Progressive enhancement only.
"use strict";

// Every data table's cells carry their column's name (data-label), so a narrow screen can
// show each row as a stacked card (app.css); explicit roles keep the table a table for
// assistive technology once CSS changes its display.
function labelTable(table) {
  const heads = [...table.querySelectorAll(":scope > thead > tr:last-child > th")]
    .map((th) => th.textContent.trim());
  if (!heads.length) return;
  table.setAttribute("role", "table");
  for (const part of table.querySelectorAll(":scope > thead, :scope > tbody, :scope > tfoot")) {
    part.setAttribute("role", "rowgroup");
  }
  for (const th of table.querySelectorAll(":scope > thead > tr > th")) {
    th.setAttribute("role", "columnheader");
  }
  for (const row of table.querySelectorAll(":scope > thead > tr, :scope > tbody > tr, :scope > tfoot > tr")) {
    row.setAttribute("role", "row");
    if (row.parentElement.tagName === "THEAD") continue;
    let column = 0;
    for (const cell of row.children) {
      const span = Number(cell.getAttribute("colspan") || 1);
      if (!cell.hasAttribute("data-label")) cell.setAttribute("data-label", span > 1 ? "" : heads[column] || "");
      if (!cell.hasAttribute("role")) cell.setAttribute("role", cell.tagName === "TH" ? "rowheader" : "cell");
      column += span;
    }
  }
}

function labelTables(root) {
  for (const table of root.querySelectorAll("table.data")) labelTable(table);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-action='print']")) {
    button.addEventListener("click", () => window.print());
  }
  labelTables(document);
  // tables search.js adds as each state answers
  const results = document.getElementById("results");
  if (results) {
    new MutationObserver(() => labelTables(results)).observe(results, { childList: true, subtree: true });
  }
});
