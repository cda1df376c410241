/* lhcad leaderboard: sortable tables, no dependencies, works from file://.
   Click a header to sort by it (again to reverse). A page opened with #sort=COL or #sort=-COL
   (0-based column, "-" for descending) is sorted on load. Cells sort by data-value when present. */
(function () {
  function key(cell) {
    var v = cell.getAttribute("data-value");
    if (v === null) v = cell.textContent.trim();
    var x = parseFloat(v);
    return isNaN(x) ? v.toLowerCase() : x;
  }
  function sortTable(table, col, desc) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var ka = key(a.cells[col]), kb = key(b.cells[col]);
      var r = (typeof ka === typeof kb) ? (ka < kb ? -1 : ka > kb ? 1 : 0) : (typeof ka === "number" ? -1 : 1);
      return desc ? -r : r;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    var ths = table.tHead.rows[0].cells;
    for (var i = 0; i < ths.length; i++) ths[i].removeAttribute("aria-sort");
    ths[col].setAttribute("aria-sort", desc ? "descending" : "ascending");
    table.setAttribute("data-sorted", (desc ? "-" : "") + col);
  }
  function init() {
    var tables = document.querySelectorAll("table.sortable");
    Array.prototype.forEach.call(tables, function (table) {
      var ths = table.tHead.rows[0].cells;
      Array.prototype.forEach.call(ths, function (th, col) {
        th.addEventListener("click", function () {
          sortTable(table, col, th.getAttribute("aria-sort") === "ascending");
        });
      });
    });
    var m = /sort=(-?)(\d+)/.exec(window.location.hash || "");
    if (m && tables.length) sortTable(tables[0], parseInt(m[2], 10), m[1] === "-");
    document.body.setAttribute("data-ready", "1");
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
