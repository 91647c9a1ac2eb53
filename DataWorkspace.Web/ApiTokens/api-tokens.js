// The token page's copy button: shown only where the clipboard can be written, and says when it has copied.
for (const button of document.querySelectorAll("button[data-copy-from]")) {
  const field = document.getElementById(button.dataset.copyFrom);
  const status = document.querySelector(`[data-copied-for="${button.dataset.copyFrom}"]`);
  if (!field || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(field.value);
      if (status) status.textContent = "Copied.";
    } catch {
      field.select();
      if (status) status.textContent = "Could not copy: the token is selected, copy it with your keyboard.";
    }
  });
}
