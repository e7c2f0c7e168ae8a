// Calls to the service's public API, and French wording shared by the pages.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `Erreur ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function check(response) {
  if (response.ok) return response;
  let problem = {};
  try { problem = await response.json(); } catch { problem = { title: response.statusText }; }
  throw new ApiError(response.status, problem);
}

export async function getJson(path, params = {}, signal) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.append(key, value);
  }
  const url = query.toString() ? `${path}?${query}` : path;
  const response = await check(await fetch(url, { signal, headers: { Accept: "application/json" } }));
  return response.json();
}

export async function postForm(path, form) {
  return check(await fetch(path, { method: "POST", body: form }));
}

export function when(geography, asOf) {
  // The API takes one or the other: a chosen geography wins over the date.
  return geography ? { geography } : { as_of: asOf || undefined };
}

/** The problem as an HTML list: its detail and each bad parameter. */
export function problemHtml(error) {
  const problem = error.problem || {};
  const items = (problem.errors || []).map((e) =>
    `<li>${escapeHtml(e.parameter || (e.loc || []).join("."))} : ${escapeHtml(e.message || e.msg || e.detail || "")}</li>`);
  return `<div class="fr-alert fr-alert--error fr-alert--sm" role="alert"><p>${escapeHtml(error.message)}</p>${items.length ? `<ul>${items.join("")}</ul>` : ""}</div>`;
}

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export const STATUS_LABELS = {
  in: "En QPV",
  out: "Hors QPV",
  near_boundary: "Près d'une limite",
  commune_without_qpv: "Commune sans QPV",
  street_partial: "Rue en partie en QPV",
  ambiguous: "Adresse ambiguë",
  not_found: "Introuvable",
  geocoder_error: "Erreur du géocodeur",
  invalid: "Ligne invalide",
};

export const metres = (d) => (d >= 10000
  ? `${(d / 1000).toLocaleString("fr-FR", { maximumFractionDigits: 1 })} km`
  : `${Math.round(d).toLocaleString("fr-FR")} m`);
export const number = (n) => Number(n).toLocaleString("fr-FR");
