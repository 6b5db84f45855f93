// Train page: poll the running iteration's progress.json every second, update the bar, reload when it ends.

const box = document.getElementById("running");
const bar = document.getElementById("training-progress");
const field = (name) => box.querySelector(`[data-field="${name}"]`);

async function poll() {
  let state;
  try {
    const response = await fetch(box.dataset.progressUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    state = await response.json();
  } catch {
    setTimeout(poll, 3000); // the server restarting, a dropped connection: try again a little later
    return;
  }
  if (!state.running) {
    const notice = `${state.name} ${state.status.toLowerCase()}.`;
    window.location.replace(`${window.location.pathname}?notice=${encodeURIComponent(notice)}`);
    return;
  }
  field("status").textContent = state.status.toLowerCase();
  // The table says the same as the card: one status, read from one answer.
  const row = document.querySelector(`tr[data-iteration="${state.id}"] [data-field="status"]`);
  if (row) row.textContent = state.status;
  field("phase").textContent = state.phaseLabel;
  field("count").textContent = state.total ? `${state.done} of ${state.total}` : "";
  field("elapsed").textContent = state.elapsedText;
  // Label conflicts and leakage are known once the images are read: said while training goes on.
  const warnings = field("duplicates");
  if (warnings && state.duplicateWarnings.length && !warnings.childElementCount) {
    for (const text of state.duplicateWarnings) {
      const line = document.createElement("p");
      line.className = "warn";
      line.textContent = `${text}.`;
      warnings.append(line);
    }
  }
  if (state.total) {
    bar.max = state.total;
    bar.value = state.done;
  } else {
    bar.removeAttribute("value");
  }
  setTimeout(poll, 1000);
}

if (box) setTimeout(poll, 1000);
