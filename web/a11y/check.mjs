// Opens each URL in Debian's headless Chromium, runs axe-core in the page and
// prints one JSON line per page: its serious and critical violations. Exits 1
// when any page has one, 2 when the browser or a page cannot be opened.
//   node check.mjs [--screenshots DIR] URL...
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const args = process.argv.slice(2);
let shots = null;
if (args[0] === "--screenshots") {
  shots = args[1];
  args.splice(0, 2);
  mkdirSync(shots, { recursive: true });
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
let failed = false;
try {
  // The pages forbid every script (CSP); only the checker's own axe-core
  // is let in, for the check.
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  for (const [index, url] of args.entries()) {
    const response = await page.goto(url);
    await page.addScriptTag({ content: axeSource });
    const result = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ["violations"] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
    });
    const serious = result.filter((v) => v.impact === "serious" || v.impact === "critical");
    if (shots) await page.screenshot({ path: `${shots}/${index}.png`, fullPage: true });
    console.log(JSON.stringify({ url, status: response.status(), violations: result, serious: serious.length }));
    if (serious.length > 0) failed = true;
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
