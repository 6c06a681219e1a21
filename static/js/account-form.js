// Show only the fields the chosen account type uses. Without JavaScript every field shows,
// each labelled with the types it applies to.
(function () {
  var kind = document.getElementById("id_kind");
  if (!kind) return;
  function update() {
    document.querySelectorAll("[data-kinds]").forEach(function (row) {
      var kinds = row.getAttribute("data-kinds").split(" ");
      row.hidden = kinds.indexOf(kind.value) === -1;
    });
    document.querySelectorAll("[data-kind-help]").forEach(function (el) {
      el.hidden = el.getAttribute("data-kind-help") !== kind.value;
    });
  }
  document.documentElement.classList.add("js");
  kind.addEventListener("change", update);
  update();
})();
