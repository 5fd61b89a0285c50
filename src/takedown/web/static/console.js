// The console's live parts: countdowns, keyboard shortcuts (each reviewer may turn them off),
// the session clock and break reminder, copy buttons. Every page works without it.
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
    document.querySelectorAll("[data-age]").forEach(function (el) {
      var age = now - Number(el.getAttribute("data-age"));
      var s = Math.max(0, Math.round(age));
      el.textContent = s < 120 ? s + " s" : s < 7200 ? Math.round(s / 60) + " min" : s < 172800 ? (s / 3600).toFixed(1) + " h" : Math.round(s / 86400) + " d";
    });
  }
  tick();
  setInterval(tick, 1000);

  var prefs = document.getElementById("session-time");
  var shortcuts = !prefs || prefs.getAttribute("data-shortcuts") !== "off";
  document.addEventListener("keydown", function (event) {
    if (!shortcuts) { return; }
    var tag = (event.target && event.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = document.querySelector('[data-key="' + event.key + '"]');
    if (target) { event.preventDefault(); target.click(); }
  });

  // Session time and the break reminder: counted from the first console page of this
  // browser session (sessionStorage), so a new sign-in starts at zero.
  var START = "takedown-console-start";
  var SNOOZE = "takedown-break-snoozed";
  if (!prefs) {
    try { sessionStorage.removeItem(START); sessionStorage.removeItem(SNOOZE); } catch (e) { /* private mode */ }
  } else {
    var store = window.sessionStorage;
    var started = Number(store.getItem(START) || 0);
    if (!started) { started = Date.now(); store.setItem(START, String(started)); }
    var period = Number(prefs.getAttribute("data-break-minutes") || 0) * 60000;
    var reminder = document.getElementById("break-reminder");
    var shown = document.getElementById("session-minutes");
    var sessionTick = function () {
      var minutes = Math.floor((Date.now() - started) / 60000);
      shown.textContent = minutes < 60 ? minutes + " min" : Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
      if (!reminder || period <= 0) { return; }
      var since = Number(store.getItem(SNOOZE) || started);
      if (Date.now() - since >= period && reminder.hidden) {
        document.getElementById("break-minutes").textContent = String(minutes);
        reminder.hidden = false;
      }
    };
    if (reminder) {
      document.getElementById("break-taken").addEventListener("click", function () {
        started = Date.now();
        store.setItem(START, String(started));
        store.setItem(SNOOZE, String(started));
        reminder.hidden = true;
        sessionTick();
      });
      document.getElementById("break-later").addEventListener("click", function () {
        store.setItem(SNOOZE, String(Date.now()));
        reminder.hidden = true;
      });
    }
    sessionTick();
    setInterval(sessionTick, 1000);
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy") || "";
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { button.textContent = "Select and copy"; });
      } else {
        button.textContent = "Select and copy";
      }
    });
  });
})();
