// Publish page: "Copy" buttons for the key, the URL and the examples. They appear only where the
// browser offers the clipboard (a secure context); elsewhere the text stays there to select by hand.

function textOf(id) {
  const element = document.getElementById(id);
  return element ? element.textContent : "";
}

function flash(button, text) {
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  button.textContent = text;
  setTimeout(() => {
    button.textContent = label;
  }, 1500);
}

if (navigator.clipboard && window.isSecureContext) {
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", () => {
      navigator.clipboard.writeText(textOf(button.dataset.copy)).then(
        () => flash(button, "Copied"),
        () => flash(button, "Copy blocked: select the text"),
      );
    });
  }
}
