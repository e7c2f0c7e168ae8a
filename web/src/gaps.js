// Gap page: a tagged file (or a finished job), an outcome and groups -> POST /v1/gaps.
import { apiFetch, escapeHtml, postForm, problemHtml, saveAs } from "./api.js";
import { firstRows, tableHtml } from "./read.js";

const TOTAL = "(ensemble)";
const SCENARIOS = {
  excluded: "Incertains exclus (estimation principale)",
  near_boundary_by_side: "Près d'une limite : du côté où le point est tombé",
  all_qpv: "Tous les incertains comptés en QPV",
  all_hors_qpv: "Tous les incertains comptés hors QPV",
};
const fmt = (v, digits = 1) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("fr-FR", { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const pct = (v) => (v === null || v === undefined ? "—" : `${fmt(100 * v)} %`);

export function initGaps(root) {
  const fileInput = root.querySelector("#fichier");
  const jobInput = root.querySelector("#job");
  const preview = root.querySelector("#apercu");
  const choices = root.querySelector("#choix");
  const report = root.querySelector("#rapport");
  const download = root.querySelector("#telecharger");
  const state = { source: null };

  async function useSource(source) {
    state.source = source;
    download.disabled = true;
    report.innerHTML = "";
    try {
      const blob = source.file || (await jobResult(source.job));
      const { header, rows } = await firstRows(blob, source.name, 5);
      preview.innerHTML = tableHtml(header, rows, `Premières lignes de ${escapeHtml(source.name)}`, escapeHtml);
      fill(header);
      choices.hidden = false;
    } catch (error) {
      preview.innerHTML = error.problem ? problemHtml(error) : `<div class="fr-alert fr-alert--error fr-alert--sm" role="alert"><p>${escapeHtml(error.message)}</p></div>`;
      choices.hidden = true;
    }
  }
  async function jobResult(job) {
    // Its first bytes are enough for the header and the first rows (a CSV result).
    let response;
    try {
      response = await apiFetch(`/v1/jobs/${encodeURIComponent(job)}/result`, { headers: { Range: "bytes=0-262143" } });
    } catch (error) {
      if ([401, 403, 429].includes(error.status)) throw error; // the key's own French message
      throw new Error(`Le résultat du traitement ${job} n'est pas disponible (${error.status}).`);
    }
    return response.blob();
  }
  fileInput.addEventListener("change", () => {
    if (fileInput.files.length) useSource({ file: fileInput.files[0], name: fileInput.files[0].name });
  });
  jobInput.addEventListener("change", () => jobInput.value.trim() && useSource({ job: jobInput.value.trim(), name: "r.csv" }));
  const fromUrl = new URLSearchParams(location.search).get("job");
  if (fromUrl) { jobInput.value = fromUrl; useSource({ job: fromUrl, name: "r.csv" }); }

  function fill(header) {
    const own = header.filter((h) => !/^(qpv_|result_|latitude$|longitude$)/.test(h));
    const guess = own.find((h) => /admis|resultat|reussi|outcome/i.test(h)) || own[0];
    root.querySelector("#resultat").innerHTML = own.map((h) =>
      `<option value="${escapeHtml(h)}" ${h === guess ? "selected" : ""}>${escapeHtml(h)}</option>`).join("");
    root.querySelector("#groupes").innerHTML = own.map((h, i) => `
      <div class="fr-checkbox-group fr-checkbox-group--sm">
        <input type="checkbox" id="par-${i}" value="${escapeHtml(h)}">
        <label class="fr-label" for="par-${i}">${escapeHtml(h)}</label>
      </div>`).join("");
  }

  function form(format) {
    const data = new FormData();
    if (state.source.file) data.append("data", state.source.file, state.source.name);
    else data.append("job", state.source.job);
    data.append("outcome", root.querySelector("#resultat").value);
    const by = [...root.querySelectorAll("#groupes input:checked")].map((c) => c.value);
    data.append("by", by.join(","));
    const positive = root.querySelector("#positives").value.trim();
    if (positive) data.append("positive", positive);
    data.append("format", format);
    return data;
  }

  root.querySelector("#ecarts-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!state.source) return;
    report.innerHTML = "<p>Calcul en cours…</p>";
    try {
      const result = await (await postForm("/v1/gaps", form("json"))).json();
      report.innerHTML = reportHtml(result);
      download.disabled = false;
    } catch (error) {
      report.innerHTML = problemHtml(error);
    }
  });
  download.addEventListener("click", async () => {
    try {
      await saveAs(await postForm("/v1/gaps", form("html")), "rapport-ecarts-qpv.html");
    } catch (error) {
      report.insertAdjacentHTML("afterbegin", problemHtml(error));
    }
  });
}

function groupLabel(row, by) {
  const parts = by.filter((c) => row[c] !== TOTAL && row[c] !== undefined).map((c) => `${c} = ${row[c]}`);
  return parts.join(", ") || "Ensemble";
}

function reportHtml(result) {
  const by = result.by;
  const main = result.rows.map((r) => [groupLabel(r, by), fmt(r.n_qpv, 0), fmt(r.n_hors_qpv, 0), pct(r.valeur_qpv), pct(r.valeur_hors_qpv),
    fmt(r.ecart), r.ecart_bas === null ? "—" : `${fmt(r.ecart_bas)} à ${fmt(r.ecart_haut)}`, fmt(r.p_valeur, 3), r.secret || ""]);
  const sensitivity = result.sensitivity.map((r) => [groupLabel(r, by), SCENARIOS[r.scenario] || r.scenario, fmt(r.n_qpv, 0), fmt(r.n_hors_qpv, 0),
    fmt(r.ecart), r.ecart_bas === null ? "—" : `${fmt(r.ecart_bas)} à ${fmt(r.ecart_haut)}`, r.secret || ""]);
  const confidence = Math.round(result.confidence * 100);
  const s = result.suppression || {};
  return `
    <h2 class="fr-h4">Résultats</h2>
    <p>Indicateur : <strong>${escapeHtml(result.indicator.column || "")}</strong>. Écart = taux en QPV − taux hors QPV, en points, avec son intervalle de confiance à ${confidence} %.
    Secret statistique : ${s.primaires ?? 0} cellule(s) de moins de ${escapeHtml(s.seuil ?? result.threshold)} lignes masquées, ${s.secondaires ?? 0} masquée(s) en secret secondaire.</p>
    ${chartSvg(result.rows, by, confidence)}
    ${tableHtml(["Groupe", "Lignes QPV", "Lignes hors QPV", "Taux QPV", "Taux hors QPV", "Écart (points)", `IC ${confidence} %`, "p-valeur", "Secret"], main, "Écarts par groupe", escapeHtml)}
    <h3 class="fr-h5 fr-mt-4w">Sensibilité au classement des lignes incertaines</h3>
    ${tableHtml(["Groupe", "Scénario", "Lignes QPV", "Lignes hors QPV", "Écart (points)", `IC ${confidence} %`, "Secret"], sensitivity, "Écart selon la façon de compter les lignes incertaines", escapeHtml)}
    ${(result.notes || []).length ? `<ul class="fr-text--sm">${result.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>` : ""}`;
}

/** Forest plot of each group's gap and interval; the table below gives the same figures. */
function chartSvg(rows, by, confidence) {
  const shown = rows.filter((r) => r.ecart !== null);
  if (!shown.length) return "";
  const values = shown.flatMap((r) => [r.ecart, r.ecart_bas ?? r.ecart, r.ecart_haut ?? r.ecart, 0]);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = (hi - lo) * 0.1 || 1;
  const [x0, x1, left, width, line] = [lo - pad, hi + pad, 220, 420, 28];
  const x = (v) => left + ((v - x0) / (x1 - x0)) * width;
  const height = shown.length * line + 40;
  const items = shown.map((r, i) => {
    const y = 20 + i * line;
    const label = escapeHtml(groupLabel(r, by));
    const whisker = r.ecart_bas === null ? "" : `<line x1="${x(r.ecart_bas)}" x2="${x(r.ecart_haut)}" y1="${y}" y2="${y}" stroke="#000091" stroke-width="2"/>`;
    return `<text x="${left - 8}" y="${y + 4}" text-anchor="end">${label}</text>${whisker}<circle cx="${x(r.ecart)}" cy="${y}" r="5" fill="#000091"/><text x="${x(r.ecart)}" y="${y - 8}" text-anchor="middle">${fmt(r.ecart)}</text>`;
  }).join("");
  return `<figure class="fr-my-2w"><svg class="qpv-chart" viewBox="0 0 ${left + width + 20} ${height}" role="img" aria-labelledby="titre-graphique">
    <title id="titre-graphique">Écart QPV − hors QPV en points, intervalle de confiance à ${confidence} %, par groupe</title>
    <line x1="${x(0)}" x2="${x(0)}" y1="5" y2="${height - 15}" stroke="#666" stroke-dasharray="4 3"/>
    <text x="${x(0)}" y="${height - 2}" text-anchor="middle">0</text>${items}</svg>
    <figcaption class="fr-text--sm">Point : écart estimé ; trait : intervalle de confiance à ${confidence} %. Les valeurs détaillées sont dans le tableau ci-dessous.</figcaption></figure>`;
}
