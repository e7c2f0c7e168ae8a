// File page: drop a CSV/XLSX, preview, choose columns, run a job, follow it, download, errors.
import { STATUS_LABELS, apiFetch, closed, escapeHtml, getJson, number, postForm, problemHtml, saveAs } from "./api.js";
import { allRecords, firstRows, guessColumns, isXlsx, tableHtml } from "./read.js";

const UNANSWERED = new Set(["invalid", "not_found", "geocoder_error", "ambiguous", "street_partial", "near_boundary"]);
const MAX_LISTED = 200;
const MAX_READ_BYTES = 50 * 1024 * 1024;
const STATE_LABELS = { queued: "En attente", running: "En cours", done: "Terminé", failed: "Échec", cancelled: "Annulé" };

export function initFile(root) {
  const input = root.querySelector("#fichier");
  const drop = root.querySelector("#depot");
  const preview = root.querySelector("#apercu");
  const columns = root.querySelector("#colonnes");
  const follow = root.querySelector("#suivi");
  const status = root.querySelector("#etat");
  const errors = root.querySelector("#erreurs");
  const state = { file: null, header: [], timer: null, job: null };

  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("qpv-drop--over"); });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("qpv-drop--over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("qpv-drop--over");
    if (e.dataTransfer.files.length) load(e.dataTransfer.files[0]);
  });
  input.addEventListener("change", () => input.files.length && load(input.files[0]));

  async function load(file) {
    state.file = file;
    follow.hidden = true;
    errors.hidden = true;
    try {
      const { header, rows } = await firstRows(file, file.name);
      state.header = header;
      preview.innerHTML = tableHtml(header, rows, `Premières lignes de ${escapeHtml(file.name)}`, escapeHtml);
      fillChoices(header);
      columns.hidden = false;
    } catch (error) {
      preview.innerHTML = `<div class="fr-alert fr-alert--error fr-alert--sm" role="alert"><p>Ce fichier ne peut pas être lu : ${escapeHtml(error.message)}</p></div>`;
      columns.hidden = true;
    }
  }

  function fillChoices(header) {
    const guess = guessColumns(header);
    root.querySelector("#colonnes-adresse").innerHTML = header.map((h, i) => `
      <div class="fr-checkbox-group fr-checkbox-group--sm">
        <input type="checkbox" id="col-${i}" value="${escapeHtml(h)}" ${guess.address.includes(h) ? "checked" : ""}>
        <label class="fr-label" for="col-${i}">${escapeHtml(h)}</label>
      </div>`).join("");
    const options = (chosen) => [`<option value="">(aucune)</option>`,
      ...header.map((h) => `<option value="${escapeHtml(h)}" ${h === chosen ? "selected" : ""}>${escapeHtml(h)}</option>`)].join("");
    root.querySelector("#col-cp").innerHTML = options(guess.postcode);
    root.querySelector("#col-insee").innerHTML = options(guess.citycode);
    root.querySelector("#col-lat").innerHTML = options(guess.lat);
    root.querySelector("#col-lon").innerHTML = options(guess.lon);
    const coordinates = guess.lat && guess.lon && !guess.address.length;
    root.querySelector(coordinates ? "#mode-coord" : "#mode-adresse").checked = true;
    showMode();
  }
  function showMode() {
    const coordinates = root.querySelector("#mode-coord").checked;
    root.querySelector("#choix-adresse").hidden = coordinates;
    root.querySelector("#choix-coord").hidden = !coordinates;
  }
  // Closed service: the result is fetched with the tab's key, then saved from a Blob (see
  // saveAs); open: a plain link, which the browser streams to disk however large the file.
  status.addEventListener("click", async (e) => {
    if (!closed() || !e.target.closest("#telecharger") || !state.job) return;
    try {
      await saveAs(await apiFetch(state.job.result), "resultat-qpv.csv");
    } catch (error) {
      status.insertAdjacentHTML("beforeend", problemHtml(error));
    }
  });
  root.querySelectorAll("input[name=mode]").forEach((r) => r.addEventListener("change", showMode));

  root.querySelector("#fichier-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!state.file) return;
    const form = new FormData();
    form.append("data", state.file, state.file.name);
    if (root.querySelector("#mode-coord").checked) {
      form.append("lat", root.querySelector("#col-lat").value);
      form.append("lon", root.querySelector("#col-lon").value);
    } else {
      root.querySelectorAll("#colonnes-adresse input:checked").forEach((c) => form.append("columns", c.value));
      for (const [id, field] of [["#col-cp", "postcode"], ["#col-insee", "citycode"]]) {
        const value = root.querySelector(id).value;
        if (value) form.append(field, value);
      }
    }
    const geography = root.querySelector("#geographie").value;
    const date = root.querySelector("#date").value;
    if (geography) form.append("geography", geography);
    else if (date) form.append("as_of", date);
    follow.hidden = false;
    errors.hidden = true;
    status.innerHTML = "<p>Envoi du fichier…</p>";
    try {
      const job = await (await postForm("/v1/jobs", form)).json();
      track(job.id);
    } catch (error) {
      status.innerHTML = problemHtml(error);
    }
  });

  function track(id) {
    clearTimeout(state.timer);
    let said = "";
    const poll = async () => {
      try {
        const job = await getJson(`/v1/jobs/${encodeURIComponent(id)}`);
        status.innerHTML = jobHtml(job);
        // Screen readers hear each change of state once, not every second's figures.
        if (job.state !== said) root.querySelector("#annonce").textContent = `Traitement : ${STATE_LABELS[job.state]}`;
        said = job.state;
        if (job.state === "done") { state.job = job; await listErrors(job); return; }
        if (job.state === "failed" || job.state === "cancelled") return;
      } catch (error) {
        status.innerHTML = problemHtml(error);
        return;
      }
      state.timer = setTimeout(poll, 1000);
    };
    poll();
  }

  async function listErrors(job) {
    const response = await apiFetch(job.result);
    const list = root.querySelector("#liste-erreurs");
    errors.hidden = false;
    // A very large result stays a download: the browser would hold all of it to list rows.
    if (Number(response.headers.get("content-length")) > MAX_READ_BYTES) {
      await response.body.cancel();
      list.innerHTML = "<p>Fichier trop volumineux pour être lu dans la page : les lignes sans réponse certaine sont repérables dans le fichier téléchargé (colonnes <code>qpv_status</code> et <code>qpv_reason</code>).</p>";
      return;
    }
    const records = await allRecords(await response.blob(), isXlsx(state.file.name) ? "r.xlsx" : "r.csv");
    const bad = [];
    records.forEach((r, i) => { if (UNANSWERED.has(r.qpv_status)) bad.push([i + 2, r]); });
    if (!bad.length) { list.innerHTML = "<p>Toutes les lignes ont une réponse certaine.</p>"; return; }
    const rows = bad.slice(0, MAX_LISTED).map(([line, r]) =>
      [line, STATUS_LABELS[r.qpv_status] || r.qpv_status, r.qpv_reason]);
    const more = bad.length > MAX_LISTED ? ` (les ${MAX_LISTED} premières sur ${number(bad.length)} ; toutes sont dans le fichier téléchargé)` : "";
    list.innerHTML = tableHtml(["Ligne du fichier", "Statut", "Raison"], rows, `${number(bad.length)} lignes${more}`, escapeHtml);
  }
}

function jobHtml(job) {
  const total = job.rows_total;
  const parts = [`<p><strong>${STATE_LABELS[job.state]}</strong> — identifiant <code>${escapeHtml(job.id)}</code></p>`];
  if (total) {
    parts.push(`<label class="fr-label" for="progression">${number(job.rows_done)} lignes traitées sur ${number(total)}${job.eta_s ? `, fin estimée dans ${Math.ceil(job.eta_s)} s` : ""}</label>`);
    parts.push(`<progress id="progression" class="qpv-progress" max="${total}" value="${job.rows_done}">${Math.round((100 * job.rows_done) / total)} %</progress>`);
  }
  const counts = Object.entries(job.counts || {});
  if (counts.length) {
    parts.push(tableHtml(["Statut", "Lignes"], counts.map(([k, v]) => [STATUS_LABELS[k] || k, number(v)]), "Lignes par statut", escapeHtml));
  }
  if (job.state === "done") {
    parts.push(`<p class="fr-mt-2w">${downloadHtml(job)}
      <a class="fr-btn fr-btn--secondary" href="/ecarts?job=${encodeURIComponent(job.id)}">Analyser les écarts</a></p>`);
  }
  if (job.state === "failed") parts.push(`<div class="fr-alert fr-alert--error fr-alert--sm" role="alert"><p>${escapeHtml(job.error)}</p></div>`);
  return parts.join("");
}

function downloadHtml(job) {
  const look = 'class="fr-btn fr-icon-download-line fr-btn--icon-left" id="telecharger"';
  const label = "Télécharger le fichier enrichi";
  return closed()
    ? `<button type="button" ${look}>${label}</button>`
    : `<a ${look} href="${escapeHtml(job.result)}" download>${label}</a>`;
}
