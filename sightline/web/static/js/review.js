// Review queue by keyboard: A accept, 1-9 pick a tag (Multiclass: sent at once; Multilabel: ticked, Enter sends),
// 0 none of these, S/J skip to the next image, K back, U undo the last review. Keys typed into a field are left alone.

const items = [...document.querySelectorAll(".queue > li[data-prediction]")];
let current = 0;

function focusItem(index) {
  if (!items.length) return;
  current = Math.max(0, Math.min(items.length - 1, index));
  items.forEach((item, i) => item.classList.toggle("current", i === current));
  items[current].focus({ preventScroll: true });
  items[current].scrollIntoView({ block: "nearest" });
}

function press(selector) {
  const button = items[current]?.querySelector(selector);
  if (button) button.click();
  return Boolean(button);
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest("input:not([type=checkbox]):not([type=radio]), textarea, select")) return;
  const key = event.key.toLowerCase();
  let handled = true;
  if (key === "u") {
    const undo = document.querySelector("[data-action=undo]");
    if (undo) undo.click();
    else handled = false;
  } else if (key === "a") handled = press("[data-action=accept]");
  else if (key === "0") handled = press("[data-action=none]");
  else if (key === "s" || key === "j") focusItem(current + 1);
  else if (key === "k") focusItem(current - 1);
  else if (/^[1-9]$/.test(key)) {
    const box = items[current]?.querySelector(`.pick input[data-key="${key}"]`);
    if (!box) return;
    box.closest("details").open = true;
    if (box.type === "radio") {
      box.checked = true;
      box.form.requestSubmit();
    } else {
      box.checked = !box.checked;
    }
  } else if (key === "enter" && event.target.closest("li[data-prediction]")) {
    const form = items[current].querySelector(".pick");
    if (form && form.querySelector("input[name=tag]:checked")) form.requestSubmit();
    else handled = press("[data-action=accept]");
  } else handled = false;
  if (handled) event.preventDefault();
});

const help = document.getElementById("shortcuts");
if (help) help.hidden = false;
focusItem(0);
