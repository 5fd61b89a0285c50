// Progressive enhancement only: the form works without JavaScript.
(function () {
  var summary = document.getElementById("error-summary") || document.getElementById("form-notice");
  if (summary) { summary.setAttribute("tabindex", "-1"); summary.focus(); }

  // The signature and the good-faith statement belong to a removal request for intimate
  // images only: shown when that kind is chosen (without JavaScript a hint says so).
  document.querySelectorAll("[data-no-script-hint]").forEach(function (hint) { hint.hidden = true; });
  var onlyFor = document.querySelectorAll("[data-only-for]");
  var needFor = document.querySelectorAll("[data-need-for]");
  var kinds = document.querySelectorAll("input[name=category]");
  function showForKind() {
    var chosen = document.querySelector("input[name=category]:checked");
    var kind = chosen ? chosen.value : "";
    onlyFor.forEach(function (part) { part.hidden = part.dataset.onlyFor !== kind; });
    needFor.forEach(function (mark) {
      mark.textContent = mark.dataset.needFor === kind ? mark.dataset.required : mark.dataset.optional;
      mark.classList.toggle("required", mark.dataset.needFor === kind);
    });
  }
  kinds.forEach(function (input) { input.addEventListener("change", showForKind); });
  showForKind();

  // Fingerprinting the reporter's own copy needs JavaScript, so its section is shown only here.
  // The file input has no name: the browser never sends the file, only the hidden fields below.
  var section = document.querySelector("[data-fingerprint]");
  var fingerprinter = window.TakedownFingerprint;
  if (!section || !fingerprinter || !window.createImageBitmap) { return; }
  section.hidden = false;
  var input = document.getElementById("own-copy-file");
  var status = document.getElementById("own-copy-status");
  var holder = document.getElementById("own-copy-hashes");
  var form = section.closest("form");
  var submit = form.querySelector("button[type=submit]");
  var labels = section.dataset; // working, ready, failed: translated by the server

  function keep(name, value) {
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = name;
    field.value = value;
    holder.appendChild(field);
  }

  input.addEventListener("change", function () {
    holder.textContent = "";
    section.removeAttribute("data-state");
    var file = input.files && input.files[0];
    if (!file) { status.textContent = ""; return; }
    status.textContent = labels.working;
    submit.disabled = true;
    fingerprinter.fingerprint(file).then(function (found) {
      found.forEach(function (item) {
        keep("hash", item.type + ":" + item.value);
        Object.keys(item.dihedral || {}).forEach(function (name) {
          keep("pdq_dihedral", name + ":" + item.dihedral[name]);
        });
      });
      status.textContent = labels.ready;
      section.setAttribute("data-state", "ready");
    }, function () {
      status.textContent = labels.failed;
      section.setAttribute("data-state", "failed");
    }).then(function () { submit.disabled = false; });
  });
})();
