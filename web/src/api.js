// Calls to the service's public API, and French wording shared by the pages.

// A closed service (body data-access="closed") needs an API key: the person types it in the
// header; it lives in sessionStorage (gone with the tab), never in localStorage nor a URL.
const KEY_ITEM = "qpv-cle-api";
export const closed = () => document.body.dataset.access === "closed";
export const storedKey = () => sessionStorage.getItem(KEY_ITEM) || "";
export function storeKey(key) {
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  else sessionStorage.removeItem(KEY_ITEM);
}

export class ApiError extends Error {
  constructor(status, problem, message) {
    super(message || problem.detail || problem.title || `Erreur ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** The French words for a refusal of the key (401, 403, 429); null for any other answer. */
function accessMessage(response, sentKey) {
  if (response.status === 401) {
    return sentKey
      ? "Une clé d'API valide est nécessaire : celle saisie est inconnue ou révoquée."
      : "Une clé d'API est nécessaire : saisissez-la dans le champ « Clé d'API » en haut de la page.";
  }
  if (response.status === 403) {
    const scope = /scope="([^"]+)"/.exec(response.headers.get("www-authenticate") || "");
    return `Cette clé n'a pas le droit ${scope ? `« ${scope[1]} » ` : ""}nécessaire à cette action : demandez une clé qui l'a.`;
  }
  if (response.status === 429 && sentKey) {
    return `Cette clé a atteint sa limite de requêtes : réessayez dans ${response.headers.get("retry-after") || "quelques"} s.`;
  }
  return null;
}

async function check(response, sentKey) {
  if (response.ok) return response;
  let problem = {};
  try { problem = await response.json(); } catch { problem = { title: response.statusText }; }
  const message = accessMessage(response, sentKey);
  // The key field shows it too, whichever part of the page made the call.
  if (message) document.dispatchEvent(new CustomEvent("qpv:acces", { detail: { status: response.status, message } }));
  throw new ApiError(response.status, problem, message);
}

/** fetch() of the API with the key of the tab, when the service is closed; ApiError unless 2xx. */
export async function apiFetch(path, options = {}) {
  const key = closed() ? storedKey() : "";
  const headers = { ...(options.headers || {}), ...(key ? { Authorization: `Bearer ${key}` } : {}) };
  return check(await fetch(path, { ...options, headers }), Boolean(key));
}

export async function getJson(path, params = {}, signal) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.append(key, value);
  }
  const url = query.toString() ? `${path}?${query}` : path;
  const response = await apiFetch(url, { signal, headers: { Accept: "application/json" } });
  return response.json();
}

export async function postForm(path, form) {
  return apiFetch(path, { method: "POST", body: form });
}

/** Save an answer as a file: a plain <a download> could not send the key, a Blob link can. */
export async function saveAs(response, fallbackName) {
  const disposition = response.headers.get("content-disposition") || "";
  const encoded = /filename\*=utf-8''([^;]+)/i.exec(disposition);
  const plain = /filename="([^"]+)"/i.exec(disposition);
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = encoded ? decodeURIComponent(encoded[1]) : (plain ? plain[1] : fallbackName);
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
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
