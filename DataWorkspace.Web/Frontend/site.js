// Starts GOV.UK Frontend's components (a module script: no inline script is allowed by the CSP).
import { initAll } from "/dist/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
