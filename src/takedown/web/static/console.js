// Live countdowns and keyboard shortcuts for the console; every page works without it.
(function () {
  function fmt(seconds) {
    var s = Math.abs(Math.round(seconds));
    var text = s < 120 ? s + " s" : s < 7200 ? Math.round(s / 60) + " min" : (s / 3600).toFixed(1) + " h";
    return seconds < 0 ? "overdue by " + text : text + " left";
  }
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var left = Number(el.getAttribute("data-due")) - now;
      el.textContent = fmt(left);
      el.classList.toggle("breach", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 600);
    });
  }
  tick();
  setInterval(tick, 1000);
  document.addEventListener("keydown", function (event) {
    var tag = (event.target && event.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = document.querySelector('[data-key="' + event.key + '"]');
    if (target) { event.preventDefault(); target.click(); }
  });
})();
