// Camera capture: [data-camera] blocks open the browser's camera (getUserMedia), and each photo taken joins
// the file input named by data-target (appended when it takes several files, else replacing its file), so
// the page's form and scripts handle it like a chosen file. No camera, no permission or no secure context
// (camera access needs https or localhost): a sentence says so, and the file input still works.

const JPEG_QUALITY = 0.92;
const BURST_GAP_MS = 400;

function reason(error) {
  if (error && error.name === "NotAllowedError") {
    return "The camera was not allowed: allow it in the browser's site settings, or choose a file instead.";
  }
  if (error && (error.name === "NotFoundError" || error.name === "OverconstrainedError")) {
    return "No camera was found: choose a file instead.";
  }
  if (error && error.name === "NotReadableError") {
    return "The camera is in use by another program: close it there, or choose a file instead.";
  }
  return `The camera could not start (${(error && error.name) || "unknown error"}): choose a file instead.`;
}

function enhance(block) {
  const input = document.getElementById(block.dataset.target);
  const live = block.querySelector("[data-camera-live]");
  const video = block.querySelector("video");
  const status = block.querySelector("[data-camera-status]");
  const start = block.querySelector("[data-camera-start]");
  let stream = null;
  let taken = 0;
  block.hidden = false;

  function stop() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    live.hidden = true;
    start.hidden = false;
  }

  async function open() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = window.isSecureContext
        ? "This browser offers no camera access: choose a file instead."
        : "The camera needs a secure address (https, or localhost on this computer): choose a file instead; " +
          "on a phone, the file chooser can take a photo too.";
      return;
    }
    status.textContent = "Opening the camera…";
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (error) {
      status.textContent = reason(error);
      return;
    }
    video.srcObject = stream;
    await video.play();
    live.hidden = false;
    start.hidden = true;
    status.textContent = "Camera on: take a photo.";
  }

  function grab() {
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
  }

  async function shoot() {
    if (!video.videoWidth) return;
    const blob = await grab();
    taken += 1;
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const file = new File([blob], `camera-${stamp}-${taken}.jpg`, { type: "image/jpeg" });
    const files = new DataTransfer();
    if (input.multiple) for (const kept of input.files) files.items.add(kept);
    files.items.add(file);
    input.files = files.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    status.textContent = input.multiple
      ? `${taken} photo${taken === 1 ? "" : "s"} taken: ${input.files.length} file${input.files.length === 1 ? "" : "s"} ready to upload.`
      : "Photo taken: it is the image to send.";
  }

  async function burst(count) {
    for (let i = 0; i < count; i += 1) {
      await shoot();
      if (i < count - 1) await new Promise((resolve) => setTimeout(resolve, BURST_GAP_MS));
    }
  }

  start.addEventListener("click", open);
  block.querySelector("[data-camera-shoot]").addEventListener("click", shoot);
  block.querySelector("[data-camera-stop]").addEventListener("click", () => {
    stop();
    status.textContent = "Camera closed.";
  });
  const burstButton = block.querySelector("[data-camera-burst]");
  if (burstButton) burstButton.addEventListener("click", () => burst(Number(burstButton.dataset.cameraBurst)));
  input.form?.addEventListener("submit", stop);
  window.addEventListener("pagehide", stop);
}

document.querySelectorAll("[data-camera]").forEach(enhance);
