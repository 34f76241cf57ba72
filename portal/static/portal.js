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
