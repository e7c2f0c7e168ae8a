// Bundles the page's scripts and styles (DSFR, Leaflet, ours) into app/web/static: no CDN.
import { build } from "esbuild";
import { cpSync, rmSync } from "node:fs";

const outdir = new URL("../app/web/static/", import.meta.url).pathname;
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: ["src/main.js", "src/app.css"],
  bundle: true,
  minify: true,
  sourcemap: false,
  target: ["es2020"],
  format: "iife",
  outdir,
  entryNames: "[name]",
  assetNames: "assets/[name]-[hash]",
  loader: { ".woff": "file", ".woff2": "file", ".svg": "file", ".png": "file" },
  legalComments: "linked",
  logLevel: "warning",
});
// The State's favicon, from the DSFR package.
cpSync("node_modules/@gouvfr/dsfr/dist/favicon/favicon.svg", `${outdir}favicon.svg`);
