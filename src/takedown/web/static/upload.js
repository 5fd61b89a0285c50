// Upload progress for bank files; without JavaScript the form posts normally.
(function () {
  document.querySelectorAll("form.upload").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var bar = form.querySelector("progress");
      bar.hidden = false;
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.upload.onprogress = function (e) { if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); } };
      request.onload = function () { document.open(); document.write(request.responseText); document.close(); };
      request.send(new FormData(form));
    });
  });
})();
