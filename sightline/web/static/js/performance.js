// The performance page: the threshold slider recomputes precision and recall as it moves (performance.json).
// Without this script the threshold is a plain GET form: a number and an Apply button.

const percent = (value) => (value === null || value === undefined || Number.isNaN(value) ? "–" : `${(value * 100).toFixed(1)}%`);

function withSpread(value, std) {
  const cell = document.createDocumentFragment();
  cell.append(percent(value));
  if (std !== null && std !== undefined && value !== null && value !== undefined) {
    const spread = document.createElement("span");
    spread.className = "muted spread";
    spread.textContent = `± ${percent(std)}`;
    cell.append(" ", spread);
  }
  return cell;
}

function show(data) {
  document.querySelector('[data-figure="precision"]').textContent = percent(data.precision);
  document.querySelector('[data-figure="recall"]').textContent = percent(data.recall);
  for (const row of data.per_tag) {
    const line = [...document.querySelectorAll("tr[data-tag]")].find((tr) => tr.dataset.tag === row.tag);
    if (!line) continue;
    for (const metric of ["precision", "recall"]) {
      const cell = line.querySelector(`[data-metric="${metric}"]`);
      cell.replaceChildren(withSpread(row[metric], row[`${metric}_std`]));
    }
  }
}

function enhanceThreshold(form) {
  const slider = form.querySelector("#threshold-slider");
  const number = form.querySelector("#threshold");
  const iteration = form.querySelector('input[name="iteration"]').value;
  let pending = null;
  let timer = null;

  async function update(threshold) {
    pending?.abort();
    pending = new AbortController();
    const query = new URLSearchParams({ iteration, threshold });
    try {
      const response = await fetch(`${form.dataset.json}?${query}`, { signal: pending.signal, headers: { accept: "application/json" } });
      if (!response.ok) return;
      show(await response.json());
      const address = new URL(window.location.href);
      address.searchParams.set("iteration", iteration);
      address.searchParams.set("threshold", threshold);
      address.searchParams.delete("notice");
      history.replaceState(null, "", address);
    } catch (error) {
      if (error.name !== "AbortError") throw error;
    }
  }

  function changed(value) {
    clearTimeout(timer);
    timer = setTimeout(() => update(value), 80);
  }

  slider.hidden = false;
  slider.value = number.value;
  slider.addEventListener("input", () => {
    number.value = Number(slider.value).toFixed(2);
    changed(number.value);
  });
  number.addEventListener("input", () => {
    const value = Number(number.value);
    if (number.value === "" || Number.isNaN(value) || value < 0 || value > 1) return;
    slider.value = value;
    changed(number.value);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    update(number.value);
  });
}

const thresholdForm = document.querySelector("#threshold-form");
if (thresholdForm) enhanceThreshold(thresholdForm);
