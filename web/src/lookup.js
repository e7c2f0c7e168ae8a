// Lookup page: address search with suggestions, map of the quartiers, click to answer a point.
import L from "leaflet";
import { escapeHtml, getJson, metres, problemHtml, when } from "./api.js";
import { nearestOnBoundary } from "./geometry.js";

const TERRITORIES = {
  hexagone: [[41.3, -5.2], [51.1, 9.6]],
  guadeloupe: [[15.8, -61.85], [16.52, -61.0]],
  martinique: [[14.38, -61.24], [14.89, -60.8]],
  guyane: [[3.6, -54.6], [5.8, -51.6]],
  reunion: [[-21.4, 55.2], [-20.85, 55.85]],
  mayotte: [[-13.05, 45.0], [-12.63, 45.3]],
  "saint-martin": [[18.0, -63.16], [18.13, -62.96]],
  polynesie: [[-17.9, -149.7], [-17.45, -149.1]],
};
const BAND_MAX_ZOOM = [9, 12, 14, 99]; // the bands of GET /v1/map/qpv (see its description)

export function initLookup(root, config) {
  const form = root.querySelector("#recherche");
  const input = root.querySelector("#adresse");
  const list = root.querySelector("#suggestions");
  const geography = root.querySelector("#geographie");
  const date = root.querySelector("#date");
  const answerBox = root.querySelector("#reponse");
  const legend = root.querySelector("#legende");
  const state = { layerKey: null, layer: null, drawn: null, suggestions: [], active: -1, typing: null, request: null };

  const map = L.map(root.querySelector("#carte"), { preferCanvas: true, keyboard: true, zoomSnap: 1 });
  map.fitBounds(TERRITORIES.hexagone);
  if (config.basemapUrl) {
    L.tileLayer(config.basemapUrl, { attribution: escapeHtml(config.basemapAttribution), maxZoom: 19 }).addTo(map);
  }
  map.attributionControl.setPrefix(false);
  const layers = new Map();

  const choice = () => when(geography.value, date.value);
  function displayedGeography(answer) {
    if (answer) return answer.geography;
    if (geography.value) return geography.value;
    if (date.value) return date.value < "2024-01-01" ? "2015" : "2024";
    return ""; // the service's default: in force today
  }

  async function showLayer(geo) {
    const zoom = map.getZoom();
    const band = BAND_MAX_ZOOM.findIndex((max) => zoom <= max);
    const key = `${geo}|${band}`;
    if (key === state.layerKey) return;
    state.layerKey = key;
    let data = layers.get(key);
    if (!data) {
      data = await getJson("/v1/map/qpv", { geography: geo || undefined, band });
      layers.set(key, data);
    }
    if (key !== state.layerKey) return; // the user moved on meanwhile
    if (state.layer) state.layer.remove();
    state.layer = L.geoJSON(data, {
      interactive: false,
      style: { color: "#000091", weight: 1, fillColor: "#6a6af4", fillOpacity: 0.35 },
    }).addTo(map);
    legend.textContent = `Quartiers prioritaires de la géographie ${data.geography} (${data.features.length} quartiers, jeu de données ${data.dataset_version}).`;
  }
  const refreshLayer = (answer) => showLayer(displayedGeography(answer)).catch((e) => {
    state.layerKey = null; // asked again on the next move, or once a key is given
    legend.textContent = `Les contours ne peuvent pas être affichés : ${e.message}`;
  });
  map.on("zoomend", () => refreshLayer(state.lastAnswer));
  geography.addEventListener("change", () => refreshLayer());
  date.addEventListener("change", () => refreshLayer());
  document.addEventListener("qpv:cle", () => refreshLayer(state.lastAnswer));
  refreshLayer();

  root.querySelector("#territoire").addEventListener("change", (e) => map.fitBounds(TERRITORIES[e.target.value]));

  async function lookupPoint(lat, lon) {
    closeSuggestions();
    try {
      const answer = await getJson("/v1/point", { lat: lat.toFixed(6), lon: lon.toFixed(6), ...choice() });
      await show({ point: answer, geocoding: null, status: answer.status });
    } catch (error) { answerBox.innerHTML = problemHtml(error); }
  }
  map.on("click", (e) => lookupPoint(e.latlng.lat, e.latlng.lng));
  root.querySelector("#centre").addEventListener("click", () => {
    const c = map.getCenter();
    lookupPoint(c.lat, c.lng);
  });

  async function lookupAddress(q) {
    if (!q.trim()) {
      answerBox.innerHTML = `<div class="fr-alert fr-alert--error fr-alert--sm" role="alert"><p>Saisissez une adresse.</p></div>`;
      input.focus();
      return;
    }
    try {
      await show(await getJson("/v1/address", { q, ...choice() }));
    } catch (error) { answerBox.innerHTML = problemHtml(error); }
  }

  async function show(answer) {
    state.lastAnswer = answer.point || null;
    answerBox.innerHTML = answerHtml(answer);
    for (const button of answerBox.querySelectorAll("[data-alternative]")) {
      button.addEventListener("click", () => {
        const alt = answer.alternatives[Number(button.dataset.alternative)];
        show({ ...alt, status: alt.point.status, alternatives: [] });
      });
    }
    await draw(answer.point, answer.geocoding);
    refreshLayer(answer.point);
  }

  async function draw(point, geocoding) {
    if (state.drawn) state.drawn.remove();
    if (!point) return;
    const group = L.featureGroup().addTo(map);
    state.drawn = group;
    const here = [point.point.lat, point.point.lon];
    L.circleMarker(here, { radius: 7, color: "#ffffff", weight: 2, fillColor: "#ce0500", fillOpacity: 1 })
      .bindTooltip(geocoding ? escapeHtml(geocoding.label) : "Point interrogé")
      .addTo(group);
    const quartier = point.qpv || point.nearest_qpv;
    if (quartier && point.distance_m !== null) {
      const feature = await getJson(`/v1/qpv/${encodeURIComponent(quartier.code)}`);
      L.geoJSON(feature, { interactive: false, style: { color: "#ce0500", weight: 3, fill: false } }).addTo(group);
      const nearest = nearestOnBoundary(feature.geometry, here);
      if (nearest) {
        L.polyline([here, nearest], { color: "#161616", weight: 2, dashArray: "6 4", interactive: false })
          .bindTooltip(metres(point.distance_m), { permanent: true, className: "qpv-distance", direction: "top", offset: [0, -6] })
          .addTo(group);
      }
    }
    map.fitBounds(group.getBounds(), { maxZoom: 17, padding: [30, 30] });
  }

  // Suggestions as you type: API Adresse's autocompletion on this service (GET /search/),
  // fast enough for every keystroke; choosing one asks /v1/address for the full answer.
  input.addEventListener("input", () => {
    clearTimeout(state.typing);
    const q = input.value.trim();
    if (q.length < 3) { closeSuggestions(); return; }
    state.typing = setTimeout(() => suggest(input.value), 120);
  });
  async function suggest(q) {
    if (state.request) state.request.abort();
    state.request = new AbortController();
    try {
      const found = await getJson("/search/", { q, autocomplete: 1, limit: 6, ...choice() }, state.request.signal);
      openSuggestions(found.features.map((f) => ({ label: f.properties.label })));
    } catch (error) {
      if (error.name !== "AbortError") closeSuggestions();
    }
  }
  function openSuggestions(options) {
    state.suggestions = options;
    state.active = -1;
    list.innerHTML = options.map((o, i) =>
      `<li role="option" id="suggestion-${i}" aria-selected="false">${escapeHtml(o.label)}</li>`).join("");
    list.hidden = options.length === 0;
    input.setAttribute("aria-expanded", String(options.length > 0));
    input.removeAttribute("aria-activedescendant");
    list.querySelectorAll("li").forEach((li, i) => li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(i); }));
  }
  function closeSuggestions() {
    list.hidden = true;
    list.innerHTML = "";
    state.suggestions = [];
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }
  function choose(i) {
    const option = state.suggestions[i];
    input.value = option.label;
    closeSuggestions();
    lookupAddress(option.label);
  }
  function highlight(i) {
    const items = list.querySelectorAll("li");
    if (!items.length) return;
    state.active = (i + items.length) % items.length;
    items.forEach((li, j) => li.setAttribute("aria-selected", String(j === state.active)));
    input.setAttribute("aria-activedescendant", items[state.active].id);
  }
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") { e.preventDefault(); highlight(state.active + 1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); highlight(state.active - 1); }
    else if (e.key === "Escape") closeSuggestions();
    else if (e.key === "Enter" && state.active >= 0) { e.preventDefault(); choose(state.active); }
  });
  input.addEventListener("blur", () => setTimeout(closeSuggestions, 150));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    clearTimeout(state.typing);
    if (state.request) state.request.abort();
    lookupAddress(input.value);
  });
}

function quartierName(q) {
  return `${escapeHtml(q.name)} (${escapeHtml(q.code)})`;
}

/** The answer in plain French: a title, then what it rests on. */
export function sentence(answer) {
  const point = answer.point;
  switch (answer.status) {
    case "in":
      return ["success", `Oui, dans le quartier prioritaire ${quartierName(point.qpv)}`];
    case "out":
      if (!point || point.distance_m === null) return ["info", "Non, hors de tout territoire ayant des quartiers prioritaires"];
      return ["info", `Non, à ${metres(point.distance_m)} du quartier prioritaire ${quartierName(point.nearest_qpv)}`];
    case "near_boundary": {
      const side = point.inside ? "côté intérieur" : "côté extérieur";
      return ["warning", `Incertain : à ${metres(point.distance_m)} de la limite du quartier ${quartierName(point.nearest_qpv)} (${side})`];
    }
    case "commune_without_qpv":
      return ["info", `Non : la commune n'a aucun quartier prioritaire (géographie ${escapeHtml(answer.geography)})`];
    case "street_partial": {
      const s = answer.street;
      return ["warning", `Incertain : seule la rue a été trouvée, et ${s.in_qpv} de ses ${s.address_points} adresses sont en quartier prioritaire (${s.qpv_codes.map(escapeHtml).join(", ")})`];
    }
    case "ambiguous":
      return ["warning", "Incertain : plusieurs lieux correspondent à cette adresse, avec des réponses différentes"];
    default:
      return ["error", "Adresse introuvable : précisez le numéro, la voie, le code postal et la commune"];
  }
}

function answerHtml(answer) {
  const [kind, title] = sentence(answer);
  const lines = [];
  if (answer.geocoding) {
    const g = answer.geocoding;
    lines.push(`Adresse trouvée : ${escapeHtml(g.label)} (score ${g.score.toLocaleString("fr-FR")}, précision : ${escapeHtml(g.type)})`);
  }
  const point = answer.point;
  if (point) {
    lines.push(`Point : ${point.point.lat.toFixed(5)}, ${point.point.lon.toFixed(5)}`);
    lines.push(`Géographie ${escapeHtml(point.geography)}, jeu de données ${escapeHtml(point.dataset.version)}`);
  } else if (answer.geography) {
    lines.push(`Géographie ${escapeHtml(answer.geography)}`);
  }
  let alternatives = "";
  if (answer.alternatives && answer.alternatives.length) {
    alternatives = `<ul>${answer.alternatives.map((a, i) =>
      `<li><button type="button" class="fr-btn fr-btn--tertiary fr-btn--sm" data-alternative="${i}">${escapeHtml(a.geocoding.label)}</button></li>`).join("")}</ul>`;
  }
  return `<div class="fr-alert fr-alert--${kind}" data-status="${escapeHtml(answer.status)}">
    <p class="qpv-answer__title">${title}</p>
    <ul class="fr-text--sm">${lines.map((l) => `<li>${l}</li>`).join("")}</ul>${alternatives}</div>`;
}
