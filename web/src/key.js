// The "Clé d'API" panel of a closed service, in the header: the key of this tab only.
import { closed, escapeHtml, storeKey, storedKey } from "./api.js";

const PANEL = `
  <form class="qpv-key" id="cle-form" novalidate aria-labelledby="cle-titre">
    <p class="fr-text--sm fr-mb-1w" id="cle-titre">Service fermé : ses réponses demandent une clé d'API.</p>
    <div class="fr-input-group qpv-key__group">
      <label class="fr-label" for="cle-api">Clé d'API
        <span class="fr-hint-text">Gardée dans cet onglet seulement, effacée à sa fermeture.</span>
      </label>
      <div class="qpv-key__row">
        <input class="fr-input" id="cle-api" name="cle" type="password" autocomplete="off" spellcheck="false" aria-describedby="cle-message">
        <button class="fr-btn fr-btn--sm" type="submit">Utiliser</button>
        <button class="fr-btn fr-btn--sm fr-btn--tertiary" type="button" id="cle-oublier">Oublier</button>
      </div>
    </div>
    <div id="cle-message" class="qpv-key__message" aria-live="polite"></div>
  </form>`;

/** Add the key field to the header of a closed service; an open one shows nothing. */
export function initKey(header) {
  if (!closed() || !header) return;
  header.insertAdjacentHTML("beforeend", PANEL);
  const input = header.querySelector("#cle-api");
  const message = header.querySelector("#cle-message");
  const say = (kind, text) => {
    message.innerHTML = text ? `<p class="fr-message fr-message--${kind}">${escapeHtml(text)}</p>` : "";
  };
  input.value = storedKey();
  // Kept as typed, so that a lookup asked right after uses it.
  input.addEventListener("input", () => { storeKey(input.value.trim()); say("info", ""); });
  header.querySelector("#cle-form").addEventListener("submit", (e) => {
    e.preventDefault();
    storeKey(input.value.trim());
    say("valid", input.value.trim() ? "Clé enregistrée pour cet onglet." : "");
    document.dispatchEvent(new CustomEvent("qpv:cle"));
  });
  header.querySelector("#cle-oublier").addEventListener("click", () => {
    input.value = "";
    storeKey("");
    say("info", "Clé oubliée.");
    input.focus();
  });
  document.addEventListener("qpv:acces", (e) => say("error", e.detail.message));
}
