// swapflow playground: plain JS, no build step, no dependencies. Talks to the API it is served by
// (relative URLs under <base href>), with the key the user pasted (kept in sessionStorage only).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const KEY = "swapflow.apiKey";
  const TERMINAL = new Set(["completed", "failed", "cancelled"]);
  const POLL_MS = 600;
  const PAGE_SIZE = 8;
  const state = {
    key: sessionStorage.getItem(KEY) || "",
    slots: { source: null, target: null },
    targetIndex: null,
    job: null,
    timer: null,
    history: { cursors: [null], page: 0, next: null },
  };

  class ApiError extends Error {
    constructor(code, message, field, status) {
      super(message);
      this.code = code;
      this.field = field || null;
      this.status = status || null;
    }
  }

  // ---- errors: every failure is shown with its code and message -------------------------------
  function showError(err) {
    const code = err instanceof ApiError ? err.code : err.name === "TypeError" ? "network_error" : "error";
    $("error-code").textContent = code;
    $("error-message").textContent = err.message || String(err);
    $("error-field").textContent = err.field ? `(field: ${err.field})` : "";
    $("error").hidden = false;
  }
  function clearError() {
    $("error").hidden = true;
  }

  // ---- the API -------------------------------------------------------------------------------
  function errorOf(status, payload, text) {
    const e = payload && payload.error;
    if (e && typeof e === "object") return new ApiError(e.code, e.message, e.field, status);
    const message = (payload && (payload.message || payload.msg)) || text || `HTTP ${status}`;
    return new ApiError(`http_${status}`, message, null, status);
  }

  async function api(method, path, body) {
    if (!state.key) throw new ApiError("no_api_key", "paste your API key above first (make up prints it)");
    const headers = { Authorization: `Bearer ${state.key}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(new URL(path, document.baseURI), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await resp.text();
    let payload = null;
    try {
      payload = text ? JSON.parse(text) : null;
    } catch (_) {
      payload = null;
    }
    if (!resp.ok) throw errorOf(resp.status, payload, text);
    // the Akool-compatible detect route answers HTTP 200 with its own error codes
    if (payload && typeof payload.code === "number" && "msg" in payload && payload.code !== 1000) {
      throw new ApiError(`akool_${payload.code}`, payload.msg, null, resp.status);
    }
    return payload;
  }

  // ---- the key -------------------------------------------------------------------------------
  function showKeyState() {
    $("api-key").value = state.key;
    $("key-state").textContent = state.key ? "key kept for this tab" : "";
  }
  $("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.key = $("api-key").value.trim();
    if (state.key) sessionStorage.setItem(KEY, state.key);
    else sessionStorage.removeItem(KEY);
    showKeyState();
    clearError();
    for (const slot of Object.values(state.slots)) if (slot && !slot.ref) ensureUploaded(slot).catch(showError);
    loadHistory(0);
  });

  // ---- photos: drop or pick, upload through POST /v1/uploads + the presigned PUT --------------
  function setDropState(role, text) {
    $(`state-${role}`).textContent = text;
  }

  function ensureUploaded(slot) {
    if (slot.ref) return Promise.resolve(slot.ref);
    if (!slot.pending) {
      slot.pending = (async () => {
        setDropState(slot.role, "uploading…");
        const created = await api("POST", "v1/uploads", {
          filename: slot.file.name || `${slot.role}.jpg`,
          content_type: slot.file.type,
          size: slot.file.size,
        });
        const put = await fetch(created.upload.url, { method: "PUT", headers: created.upload.headers, body: slot.file });
        if (!put.ok) throw new ApiError("upload_failed", `the presigned PUT answered HTTP ${put.status}`);
        slot.ref = created.image_ref;
        setDropState(slot.role, `uploaded · ${slot.width}×${slot.height}`);
        if (slot.role === "target") await detectFaces(slot);
        return slot.ref;
      })().catch((err) => {
        slot.pending = null;
        setDropState(slot.role, "upload failed");
        throw err;
      });
    }
    return slot.pending;
  }

  function choose(role, file) {
    if (!file) return;
    clearError();
    if (!/^image\/(jpeg|png|webp)$/.test(file.type)) {
      showError(new ApiError("unsupported_media_type", `${file.name}: choose a JPEG, PNG or WebP image`, role));
      return;
    }
    const old = state.slots[role];
    if (old) URL.revokeObjectURL(old.url);
    const slot = { role, file, url: URL.createObjectURL(file), ref: null, pending: null, faces: [], width: 0, height: 0 };
    state.slots[role] = slot;
    if (role === "target") {
      state.targetIndex = null;
      $("boxes").replaceChildren();
      showFaceHint();
    }
    const img = $(`img-${role}`);
    const drop = $(`drop-${role}`);
    img.onload = () => {
      slot.width = img.naturalWidth;
      slot.height = img.naturalHeight;
      ensureUploaded(slot).catch(showError);
    };
    img.src = slot.url;
    drop.querySelector(".drop-empty").hidden = true;
    drop.querySelector(".frame").hidden = false;
    drop.classList.add("filled");
    $(`show-${role}`).src = slot.url;
    updateSubmit();
  }

  for (const role of ["source", "target"]) {
    const drop = $(`drop-${role}`);
    const input = $(`file-${role}`);
    drop.addEventListener("click", (ev) => {
      if (!ev.target.closest(".face")) input.click();
    });
    drop.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") input.click();
    });
    input.addEventListener("change", () => choose(role, input.files[0]));
    drop.addEventListener("dragover", (ev) => {
      ev.preventDefault();
      drop.classList.add("over");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (ev) => {
      ev.preventDefault();
      drop.classList.remove("over");
      choose(role, ev.dataTransfer.files[0]);
    });
  }

  // ---- faces of the target: detection boxes that set target_index -----------------------------
  async function detectFaces(slot) {
    setDropState("target", "finding faces…");
    const found = await api("POST", "interface/detect-api/detect_faces", { url: slot.ref });
    const frame = (found && found.faces_obj && found.faces_obj["0"]) || {};
    slot.faces = frame.region || [];
    if (state.slots.target !== slot) return;
    drawBoxes(slot);
    const n = slot.faces.length;
    setDropState("target", `uploaded · ${slot.width}×${slot.height} · ${n} face${n === 1 ? "" : "s"} found`);
  }

  function drawBoxes(slot) {
    const boxes = $("boxes");
    boxes.replaceChildren();
    slot.faces.forEach(([x, y, w, h], index) => {
      const box = document.createElement("div");
      box.className = "face";
      box.dataset.index = String(index);
      box.title = `replace face ${index}`;
      Object.assign(box.style, {
        left: `${(100 * x) / slot.width}%`,
        top: `${(100 * y) / slot.height}%`,
        width: `${(100 * w) / slot.width}%`,
        height: `${(100 * h) / slot.height}%`,
      });
      const label = document.createElement("span");
      label.textContent = `face ${index}`;
      box.append(label);
      box.addEventListener("click", (ev) => {
        ev.stopPropagation();
        state.targetIndex = state.targetIndex === index ? null : index;
        showFaceHint();
      });
      boxes.append(box);
    });
    showFaceHint();
  }

  function showFaceHint() {
    const slot = state.slots.target;
    for (const box of $("boxes").children) box.classList.toggle("selected", Number(box.dataset.index) === state.targetIndex);
    const hint = $("face-hint");
    hint.classList.toggle("chosen", state.targetIndex !== null);
    if (state.targetIndex !== null) hint.textContent = `Replacing face ${state.targetIndex} (target_index ${state.targetIndex}); click it again for the default.`;
    else if (slot && slot.faces.length > 1) hint.textContent = `${slot.faces.length} faces: click the one to replace (default: the largest).`;
    else hint.textContent = "With several faces in the target, click the one to replace (default: the largest).";
  }

  // ---- submit and follow a job ---------------------------------------------------------------
  function updateSubmit() {
    $("submit").disabled = !(state.slots.source && state.slots.target);
  }

  function setStatus(status, text) {
    const pill = $("status");
    pill.dataset.status = status;
    pill.textContent = text || status;
  }

  $("submit").addEventListener("click", async () => {
    clearError();
    const button = $("submit");
    button.disabled = true;
    try {
      setStatus("uploading", "uploading");
      const [source, target] = await Promise.all([ensureUploaded(state.slots.source), ensureUploaded(state.slots.target)]);
      const body = { source_image: source, target_image: target, output_format: $("output-format").value };
      if ($("provider").value) body.provider = $("provider").value;
      if ($("face-enhance").checked) body.face_enhance = true;
      if (state.targetIndex !== null) body.target_index = state.targetIndex;
      const accepted = await api("POST", "v1/jobs", body);
      resetResult(true);
      follow(accepted.id);
    } catch (err) {
      setStatus("error", "error");
      showError(err);
    } finally {
      updateSubmit();
    }
  });

  function resetResult(withInputs) {
    $("show-result").removeAttribute("src");
    $("result-size").textContent = "";
    $("compare").hidden = true;
    $("download").hidden = true;
    $("result-note").textContent = "";
    if (!withInputs) {
      $("show-source").removeAttribute("src");
      $("show-target").removeAttribute("src");
    } else {
      for (const role of ["source", "target"]) if (state.slots[role]) $(`show-${role}`).src = state.slots[role].url;
    }
  }

  function follow(id) {
    clearTimeout(state.timer);
    const started = Date.now();
    $("job-id").textContent = id;
    const tick = async () => {
      try {
        const job = await api("GET", `v1/jobs/${encodeURIComponent(id)}`);
        state.job = job;
        setStatus(job.status);
        $("elapsed").textContent = `${((Date.now() - started) / 1000).toFixed(1)} s`;
        $("cancel").hidden = TERMINAL.has(job.status);
        if (!TERMINAL.has(job.status)) {
          state.timer = setTimeout(tick, POLL_MS);
          return;
        }
        showOutcome(job);
        loadHistory(state.history.page);
      } catch (err) {
        showError(err);
      }
    };
    tick();
  }

  function showOutcome(job) {
    if (job.status === "failed" || job.status === "cancelled") {
      const e = job.error || { code: job.status, message: `the job was ${job.status}` };
      showError(new ApiError(e.code, e.message));
      return;
    }
    const out = (job.outputs || [])[0];
    if (!out) return;
    const img = $("show-result");
    img.src = out.url;
    $("result-size").textContent = `${out.width}×${out.height} · ${out.content_type.replace("image/", "")}`;
    $("result-note").textContent = out.note || "";
    const download = $("download");
    download.hidden = false;
    download.href = out.url;
    download.dataset.name = `${job.id}.${out.content_type.split("/")[1].replace("jpeg", "jpg")}`;
    const before = $("show-target").getAttribute("src");
    if (before) {
      $("compare-before").src = before;
      $("compare-after-img").src = out.url;
      $("compare").hidden = false;
      setCompare($("compare-range").value);
    }
  }

  $("download").addEventListener("click", async (ev) => {
    // the output lives on another origin (presigned S3): fetch it so the browser saves, not navigates
    ev.preventDefault();
    const link = ev.currentTarget;
    try {
      const resp = await fetch(link.href);
      if (!resp.ok) throw new ApiError("download_failed", `the output URL answered HTTP ${resp.status}`);
      const url = URL.createObjectURL(await resp.blob());
      const a = document.createElement("a");
      a.href = url;
      a.download = link.dataset.name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      showError(err);
    }
  });

  $("cancel").addEventListener("click", async () => {
    if (!state.job) return;
    try {
      await api("POST", `v1/jobs/${encodeURIComponent(state.job.id)}/cancel`);
    } catch (err) {
      showError(err);
    }
  });

  function setCompare(value) {
    $("compare-after").style.clipPath = `inset(0 0 0 ${value}%)`;
    $("compare-line").style.left = `${value}%`;
  }
  $("compare-range").addEventListener("input", (ev) => setCompare(ev.target.value));

  // ---- history: status filter and cursor paging ----------------------------------------------
  function cell(text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }

  async function loadHistory(page) {
    if (!state.key) return;
    const h = state.history;
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if ($("history-status").value) query.set("status", $("history-status").value);
    if (h.cursors[page]) query.set("cursor", h.cursors[page]);
    try {
      const listing = await api("GET", `v1/jobs?${query}`);
      h.page = page;
      h.next = listing.next_cursor;
      h.cursors[page + 1] = listing.next_cursor;
      const rows = listing.jobs.map((job) => {
        const tr = document.createElement("tr");
        tr.dataset.id = job.id;
        const status = document.createElement("td");
        const pill = document.createElement("span");
        pill.className = "status";
        pill.dataset.status = job.status;
        pill.textContent = job.status;
        status.append(pill);
        tr.append(
          cell(job.id, "mono"),
          status,
          cell(job.provider || ""),
          cell((job.created_at || "").replace("T", " ").replace(/\.\d+Z$/, "Z")),
          cell(job.error ? `${job.error.code}: ${job.error.message}` : "", "muted"),
        );
        tr.addEventListener("click", () => {
          clearError();
          resetResult(false);
          follow(job.id);
        });
        return tr;
      });
      if (!rows.length) {
        const tr = document.createElement("tr");
        tr.append(cell("no jobs", "muted"));
        tr.firstChild.colSpan = 5;
        rows.push(tr);
      }
      $("history-rows").replaceChildren(...rows);
      $("history-page").textContent = `page ${page + 1}`;
      $("history-newer").disabled = page === 0;
      $("history-older").disabled = !h.next;
    } catch (err) {
      showError(err);
    }
  }

  $("history-status").addEventListener("change", () => {
    state.history = { cursors: [null], page: 0, next: null };
    loadHistory(0);
  });
  $("history-refresh").addEventListener("click", () => loadHistory(state.history.page));
  $("history-older").addEventListener("click", () => loadHistory(state.history.page + 1));
  $("history-newer").addEventListener("click", () => loadHistory(Math.max(0, state.history.page - 1)));
  $("error-close").addEventListener("click", clearError);

  showKeyState();
  loadHistory(0);
})();
