// Drop zones: a photo dropped on [data-drop-zone] fills its file input and shows a preview; choosing one previews too.
// The form still posts as a plain form; without this script the file input works as it is.

function preview(zone, file) {
  let image = zone.querySelector("img.drop-preview");
  if (!file || !file.type.startsWith("image/")) {
    image?.remove();
    return;
  }
  if (!image) {
    image = document.createElement("img");
    image.className = "drop-preview";
    image.alt = "the chosen image";
    zone.append(image);
  }
  if (image.src) URL.revokeObjectURL(image.src);
  image.src = URL.createObjectURL(file);
}

function enhance(zone) {
  const input = zone.querySelector('input[type="file"]');
  zone.querySelector("[data-drop-hint]")?.removeAttribute("hidden");
  input.addEventListener("change", () => preview(zone, input.files[0]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const [file] = event.dataTransfer.files;
    if (!file) return;
    const chosen = new DataTransfer();
    chosen.items.add(file);
    input.files = chosen.files;
    preview(zone, file);
  });
}

document.querySelectorAll("[data-drop-zone]").forEach(enhance);
