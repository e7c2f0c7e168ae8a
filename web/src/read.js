// First rows of a CSV or XLSX file, read in the browser for the preview and column choice.
import Papa from "papaparse";
import { readSheet } from "read-excel-file/universal";

const PREVIEW_BYTES = 256 * 1024;

export function isXlsx(name) {
  return /\.xlsx$/i.test(name);
}

/** Text of CSV bytes: UTF-8 (BOM dropped) when valid, else Windows-1252, as the service does. */
export function decode(bytes) {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return new TextDecoder("windows-1252").decode(bytes);
  }
}

/** {header, rows} of the first `limit` data rows of a Blob named `name`. */
export async function firstRows(blob, name, limit = 10) {
  if (isXlsx(name)) {
    const rows = await readSheet(blob);
    const text = rows.map((r) => r.map((v) => (v instanceof Date ? v.toISOString().slice(0, 10) : v ?? "")));
    return { header: (text[0] || []).map(String), rows: text.slice(1, limit + 1) };
  }
  const bytes = new Uint8Array(await blob.slice(0, PREVIEW_BYTES).arrayBuffer());
  let text = decode(bytes);
  if (blob.size > PREVIEW_BYTES) text = text.slice(0, text.lastIndexOf("\n") + 1); // whole lines
  const parsed = Papa.parse(text, { preview: limit + 1, skipEmptyLines: false });
  const [header = [], ...rows] = parsed.data;
  return { header, rows: rows.filter((r) => !(r.length === 1 && r[0] === "")) };
}

/** Every row of a whole file as objects keyed by the header (for the row-by-row errors). */
export async function allRecords(blob, name) {
  if (isXlsx(name)) {
    const rows = await readSheet(blob);
    const header = (rows[0] || []).map(String);
    return rows.slice(1).map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ""])));
  }
  const text = decode(new Uint8Array(await blob.arrayBuffer()));
  return Papa.parse(text, { header: true, skipEmptyLines: false }).data;
}

export function tableHtml(header, rows, caption, escapeHtml) {
  const head = header.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join("");
  const body = rows.map((r) => `<tr>${header.map((_, i) => `<td>${escapeHtml(r[i])}</td>`).join("")}</tr>`).join("");
  return `<div class="qpv-table-wrap"><table><caption class="fr-text--sm">${caption}</caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

// Column guesses from their names (folded: case and accents ignored).
const fold = (s) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim();
const GUESSES = {
  address: /^(numero|num|no|n°|adresse.*|address.*|voie|rue|libelle.*voie|nom.?voie|ligne.?\d|complement|commune|ville|city|localite)$/,
  postcode: /^(code.?postal|cp|postcode|codepostal|zip)$/,
  citycode: /^(code.?insee|insee|citycode|code.?commune|cog|depcom)$/,
  lat: /^(lat|latitude|y_?wgs84)$/,
  lon: /^(lon|lng|long|longitude|x_?wgs84)$/,
};
export function guessColumns(header) {
  const pick = (re) => header.filter((h) => re.test(fold(h)));
  return {
    address: pick(GUESSES.address),
    postcode: pick(GUESSES.postcode)[0] || "",
    citycode: pick(GUESSES.citycode)[0] || "",
    lat: pick(GUESSES.lat)[0] || "",
    lon: pick(GUESSES.lon)[0] || "",
  };
}
