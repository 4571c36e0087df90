// Opens each URL in Debian's headless Chromium, at a desktop's width (1280
// px) and at a phone's (390 px); at each, runs axe-core in the page and
// measures whether anything is wider than the screen. Prints one JSON line
// per page: its violations, and how many are serious (serious or critical
// impact, or a page wider than the phone). Exits 1 when any page has a
// serious one, 2 when the browser or a page cannot be opened.
//   node check.mjs [--screenshots DIR] URL...
// A URL may be a file:// page kept from a walk through the product.
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
const WIDTHS = [["desktop", { width: 1280, height: 800 }], ["phone", { width: 390, height: 844 }]];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--allow-file-access-from-files"],
});
let failed = false;
try {
  // The pages forbid every script (CSP); only the checker's own axe-core
  // is let in, for the check.
  const context = await browser.newContext({ bypassCSP: true, locale: "zh-CN" });
  const page = await context.newPage();
  for (const [index, url] of args.entries()) {
    const response = await page.goto(url);
    const seen = {};
    let serious = 0;
    for (const [width, viewport] of WIDTHS) {
      await page.setViewportSize(viewport);
      await page.addScriptTag({ content: axeSource });
      const violations = await page.evaluate(async () => {
        const r = await window.axe.run(document, { resultTypes: ["violations"] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
      });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      if (overflow > 0) bad.push({ id: "wider-than-the-screen", impact: "serious", nodes: overflow });
      serious += bad.length;
      if (shots) {
        const suffix = width === "phone" ? "-390" : "";
        await page.screenshot({ path: `${shots}/${index}${suffix}.png`, fullPage: true });
      }
      seen[width] = { violations, bad };
    }
    const status = response ? response.status() : 0;
    console.log(JSON.stringify({ url, status, serious, ...seen }));
    if (serious > 0) failed = true;
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
