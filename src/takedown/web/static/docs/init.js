// Swagger UI for /docs, started from a file rather than an inline script (the pages' CSP has
// no 'unsafe-inline'). The OpenAPI URL comes from the page; nothing is fetched elsewhere
// (validatorUrl: null keeps the schema away from validator.swagger.io).
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
  });
})();
