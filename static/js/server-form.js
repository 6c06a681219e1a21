// Choosing a Google or Microsoft auth account fills in the server they log into, when the
// host is still empty. (Saving does the same without JavaScript.)
(function () {
  var picker = document.getElementById("id_auth_account");
  var data = document.getElementById("account-suggestions");
  if (!picker || !data) return;
  var suggestions = JSON.parse(data.textContent);
  picker.addEventListener("change", function () {
    var s = suggestions[picker.value];
    var host = document.getElementById("id_host");
    if (!s || !s.host || host.value) return;
    host.value = s.host;
    document.getElementById("id_port").value = s.port;
    document.getElementById("id_security").value = s.security;
  });
})();
