// @ts-check
// /docs: start Swagger UI (loaded just before, from /vendor/swagger-ui/) on our OpenAPI
// document. A classic script, so the page needs no inline one.
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  if (!root) throw new Error("the page has no element #swagger-ui: templates/docs.html");
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
