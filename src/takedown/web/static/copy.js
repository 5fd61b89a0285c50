// The receipt's "Copy link" button (without JavaScript the link is selected and copied by
// hand, so the button stays hidden).
(function () {
  var button = document.getElementById("copy-link");
  var status = document.getElementById("copy-status");
  if (!button || !status) { return; }
  button.hidden = false;

  function fallback(text) {
    // the Clipboard API needs a secure context; a selected, hidden textarea works elsewhere
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var done = false;
    try { done = document.execCommand("copy"); } catch (e) { done = false; }
    document.body.removeChild(area);
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  button.addEventListener("click", function () {
    var text = button.dataset.copy;
    var copying = navigator.clipboard && window.isSecureContext
      ? navigator.clipboard.writeText(text).catch(function () { return fallback(text); })
      : fallback(text);
    copying.then(function () {
      status.textContent = button.dataset.copied;
    }, function () {
      status.textContent = button.dataset.failed;
    });
  });
})();
