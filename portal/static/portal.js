// govshare portal: progressive enhancement only; every page works without it.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button.add-row");
  if (!button) return;
  var body = document.getElementById(button.dataset.table).tBodies[0];
  var last = body.rows[body.rows.length - 1];
  var row = last.cloneNode(true);
  row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
  row.querySelectorAll(".field-error").forEach(function (error) { error.remove(); });
  row.cells[0].textContent = String(body.rows.length + 1);
  body.appendChild(row);
});

// 统一查询's 打印结果单: a printed sheet shows every resource's fields, so every <details> opens for the print
// and those the reader had closed close again after it
var closedForPrint = [];
function openAllDetails() {
  document.querySelectorAll("details:not([open])").forEach(function (details) {
    closedForPrint.push(details);
    details.open = true;
  });
}
window.addEventListener("beforeprint", openAllDetails);
window.addEventListener("afterprint", function () {
  closedForPrint.forEach(function (details) { details.open = false; });
  closedForPrint = [];
});
document.addEventListener("click", function (event) {
  if (!event.target.closest("button[data-print]")) return;
  openAllDetails();
  window.print();
});
