// Progressive enhancement only: the form works without JavaScript.
(function () {
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
