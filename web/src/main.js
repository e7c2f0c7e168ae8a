// One bundle for the three pages; each page names itself with data-page.
import { initKey } from "./key.js";
import { initLookup } from "./lookup.js";
import { initFile } from "./file.js";
import { initGaps } from "./gaps.js";

initKey(document.querySelector("#cle"));
const pages = { lookup: initLookup, file: initFile, gaps: initGaps };
const root = document.querySelector("[data-page]");
if (root && pages[root.dataset.page]) pages[root.dataset.page](root, document.body.dataset);
