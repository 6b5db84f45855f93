// Images page: drop files onto the upload form, upload each file in its own request with its own
// progress bar and error, and "select all" for the bulk actions. Without JavaScript the forms post as they are.

const form = document.getElementById("upload-form");
const input = document.getElementById("files");
const dropzone = document.getElementById("dropzone");
const list = document.getElementById("upload-list");
const done = document.getElementById("upload-done");
const PARALLEL = 3;

function addFiles(files) {
  const merged = new DataTransfer();
  for (const file of input.files) merged.items.add(file);
  for (const file of files) merged.items.add(file);
  input.files = merged.files;
}

if (dropzone && input) {
  dropzone.querySelector(".drop-hint").hidden = false;
  for (const type of ["dragenter", "dragover"]) {
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      dropzone.classList.add("over");
    });
  }
  dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropzone.classList.remove("over");
    if (event.dataTransfer && event.dataTransfer.files.length) addFiles(event.dataTransfer.files);
  });
}

function row(file) {
  const item = document.createElement("li");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = file.name;
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = 0;
  bar.setAttribute("aria-label", `Upload of ${file.name}`);
  const status = document.createElement("span");
  status.className = "status";
  status.textContent = "waiting";
  item.append(name, bar, status);
  list.append(item);
  return { item, bar, status };
}

function describe(result) {
  if (result.status === "OK") return "added";
  if (result.status === "OKDuplicate") return "already in the project";
  return result.message || result.status;
}

// One file, one request: resolves to true when the file landed, false with its reason shown otherwise.
function send(file, fields, view) {
  return new Promise((resolve) => {
    const body = new FormData();
    body.append("files", file, file.name);
    for (const [key, value] of fields) body.append(key, value);
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) view.bar.value = Math.round((event.loaded / event.total) * 95);
    });
    const finish = (ok, text) => {
      // A refused file shows no bar at all: a full bar would read as "uploaded".
      if (ok) view.bar.value = 100;
      else view.bar.remove();
      view.status.textContent = text;
      view.status.classList.add(ok ? "good" : "bad");
      view.item.dataset.state = ok ? "done" : "failed";
      resolve(ok);
    };
    request.addEventListener("load", () => {
      let answer = null;
      try {
        answer = JSON.parse(request.responseText);
      } catch {
        answer = null;
      }
      if (request.status === 200 && answer && answer.results && answer.results.length) {
        const result = answer.results[0];
        finish(result.ok, describe(result));
      } else {
        finish(false, (answer && answer.message) || `refused (HTTP ${request.status})`);
      }
    });
    request.addEventListener("error", () => finish(false, "network error: not uploaded"));
    view.status.textContent = "uploading";
    request.send(body);
  });
}

async function uploadAll(event) {
  event.preventDefault();
  const files = [...input.files];
  if (!files.length) return;
  const fields = [...new FormData(form).entries()].filter(([key]) => key !== "files");
  const button = document.getElementById("upload-button");
  button.disabled = true;
  list.replaceChildren();
  list.hidden = false;
  done.hidden = true;
  const views = files.map(row);
  // Files go one by one until one lands, so that new tag names are created once (an upload that adds
  // nothing makes no tag); then a few at a time.
  const outcomes = [];
  let next = 0;
  while (next < files.length && !outcomes.some(Boolean)) {
    outcomes[next] = await send(files[next], fields, views[next]);
    next += 1;
  }
  async function lane() {
    while (next < files.length) {
      const index = next++;
      outcomes[index] = await send(files[index], fields, views[index]);
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, lane));
  const landed = outcomes.filter(Boolean).length;
  const summary = done.querySelector("a");
  summary.textContent = `${landed} of ${files.length} uploaded: show the images`;
  input.value = "";
  // The next batch starts clean: new tag names now exist as tags (ticked boxes stay ticked). When nothing
  // landed, no tag was made: the names stay typed for the next try.
  if (landed) document.getElementById("new-tags").value = "";
  await refreshPage();
  done.hidden = false;
  button.disabled = false;
}

// Bring the grid, the tag counts and the tag choices up to date after an upload, so that the page never
// says "No images yet" under "16 of 16 uploaded". Without this (a failed fetch), the link reloads the page.
async function refreshPage() {
  let fresh;
  try {
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  } catch {
    return;
  }
  const ticked = new Set([...form.querySelectorAll("input[name=tag]:checked")].map((box) => box.value));
  for (const id of ["grid-section", "image-filters", "upload-tag-choices"]) {
    const now = document.getElementById(id);
    const next = fresh.getElementById(id);
    if (now && next) now.replaceChildren(...next.childNodes);
  }
  for (const box of form.querySelectorAll("input[name=tag]")) box.checked = ticked.has(box.value);
  bindSelection();
}

if (form) form.addEventListener("submit", uploadAll);

// "Select all" and the count of selected images; bound again when the grid is refreshed.
function bindSelection() {
  const selectAll = document.getElementById("select-all");
  const counter = document.getElementById("selected-count");
  const picks = [...document.querySelectorAll("#bulk-form .pick")];
  if (!selectAll) return;
  const updateCount = () => {
    const chosen = picks.filter((box) => box.checked).length;
    counter.textContent = chosen ? `${chosen} selected` : "";
    selectAll.checked = chosen === picks.length && chosen > 0;
    selectAll.indeterminate = chosen > 0 && chosen < picks.length;
  };
  selectAll.closest("label").hidden = false;
  selectAll.addEventListener("change", () => {
    for (const box of picks) box.checked = selectAll.checked;
    updateCount();
  });
  for (const box of picks) box.addEventListener("change", updateCount);
}

bindSelection();
