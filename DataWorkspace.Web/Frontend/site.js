// Starts GOV.UK Frontend's components (a module script: no inline script is allowed by the CSP).
import { initAll } from "/dist/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

// Filters apply as soon as a box is ticked or the sort changes; without JavaScript the Apply button does the same.
for (const form of document.querySelectorAll("form[data-auto-submit]")) {
  form.addEventListener("change", (event) => {
    if (event.target.matches("input[type=checkbox], select")) {
      form.querySelector("input[name=page]")?.remove();
      form.requestSubmit();
    }
  });
}
