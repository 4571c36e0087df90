// The whole path through the one window in Debian's headless Chromium, each
// person in a browser session of their own: an applicant registers (by the
// link mailed to the address) and files
// the new combined institution with its materials; the window accepts; health
// and civil affairs decide their own parts in parallel; the applicant
// downloads the permit; the public verifies it. Every page visited is
// screenshot and checked with axe-core. One JSON line per page; the last
// line is the summary. Exits 1 on a failed step or a serious violation.
//   node e2e.mjs --base URL --accounts FILE --answers FILE --screenshots DIR --work DIR
//                --mail DIR (where the product writes its mail as .eml files)
import { readFileSync, writeFileSync, mkdirSync, existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const option = (name) => {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) throw new Error(`--${name} is required`);
  return process.argv[at + 1];
};
const base = option("base");
const accounts = JSON.parse(readFileSync(option("accounts"), "utf8"));
const answers = JSON.parse(readFileSync(option("answers"), "utf8"));
const shots = option("screenshots");
const work = option("work");
const mail = option("mail");
mkdirSync(shots, { recursive: true });
mkdirSync(work, { recursive: true });

let shot = 0;
let serious = 0;
/** The widths every page is looked at: a desktop's and a phone's. */
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/** axe-core's violations of the page as it is now. */
async function axe(page) {
  await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  });
}
/** Screenshot and accessibility check of the page as it is now, at a
 * desktop's width and at a phone's; at the phone's, nothing may be wider
 * than the screen (a wide page is counted as a serious violation). */
async function look(page, name) {
  shot += 1;
  const prefix = `${shots}/${String(shot).padStart(2, "0")}-${name}`;
  const seen = {};
  for (const [width, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
    await page.setViewportSize(viewport);
    const violations = await axe(page);
    const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) bad.push({ id: "wider-than-the-screen", impact: "serious", nodes: overflow });
    serious += bad.length;
    const file = `${prefix}${width === "phone" ? "-390" : ""}.png`;
    await page.screenshot({ path: file, fullPage: true });
    seen[width] = { violations, serious: bad.length, overflow, screenshot: file };
  }
  await page.setViewportSize(DESKTOP);
  console.log(JSON.stringify({ page: name, url: page.url(), ...seen.desktop, phone: seen.phone }));
}

/** A minimal one-page PDF: a real file to upload. */
function pdf(text) {
  const content = `BT /F1 14 Tf 72 720 Td (${text}) Tj ET`;
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  ];
  let out = "%PDF-1.4\n";
  const offsets = [];
  objects.forEach((object, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, "latin1");
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
// The pages forbid every script (CSP); only the checker's own axe-core is let in.
const session = async () =>
  (await browser.newContext({ bypassCSP: true, acceptDownloads: true, locale: "zh-CN" })).newPage();

async function signIn(page, email, password, name) {
  await page.goto(`${base}/login`);
  await page.fill("#email", email);
  await page.fill("#password", password);
  await Promise.all([page.waitForNavigation(), page.click("form[action='/login'] button")]);
  await look(page, name);
}

// The sample answers typed into the application form.
async function fillFields(page) {
  for (const [field, value] of Object.entries(answers.form)) {
    const input = page.locator(`#f-${field}`);
    const tag = await input.evaluate((e) => e.tagName);
    if (tag === "SELECT") await input.selectOption({ label: String(value) });
    else await input.fill(Array.isArray(value) ? value.join("\n") : String(value));
  }
}

// Every material chosen; the site plan as an image (reviewers see it in the page).
async function attachFiles(page) {
  const png = Buffer.from(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    "base64",
  );
  for (const material of answers.materials) {
    const image = material === "site_plan";
    const file = `${work}/${material}.${image ? "png" : "pdf"}`;
    writeFileSync(file, image ? png : pdf(`e2e ${material}`));
    await page.setInputFiles(`#m-${material}`, file);
  }
}

/** The first path matching `pattern` in a mail to `address` that the
 * product wrote to the mail folder (its worker sends within seconds). */
async function mailedLink(address, pattern) {
  for (let tries = 0; tries < 300; tries++) {
    const files = existsSync(mail) ? readdirSync(mail).filter((f) => f.endsWith(".eml")) : [];
    for (const file of files) {
      const raw = readFileSync(`${mail}/${file}`, "utf8");
      if (!raw.includes(`To: ${address}`)) continue;
      // Text parts are base64 or quoted-printable; the link is in one.
      const decoded = [raw, raw.replace(/=\r?\n/g, "")];
      for (const [, body] of raw.matchAll(/Content-Transfer-Encoding: base64\r?\n\r?\n([A-Za-z0-9+/=\r\n]+)/g)) {
        decoded.push(Buffer.from(body.replace(/\s/g, ""), "base64").toString("utf8"));
      }
      for (const text of decoded) {
        const found = text.match(pattern);
        if (found) return found[0];
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no mail to ${address} with ${pattern} in ${mail}`);
}

async function press(page, selector, name) {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
  const heading = await page.locator("h1").first().textContent();
  if (heading.includes("已由他人处理") || heading.includes("无法办理")) {
    throw new Error(`${name}: ${await page.locator("main").textContent()}`);
  }
  await look(page, name);
}

const result = {};
try {
  // The applicant registers.
  const applicant = await session();
  await applicant.goto(`${base}/`);
  await look(applicant, "procedures");
  await applicant.goto(`${base}/procedures/new_combined`);
  await look(applicant, "notice");
  await applicant.goto(`${base}/register`);
  await look(applicant, "register");
  const email = `e2e-${Date.now()}@applicant.example.cn`;
  await applicant.fill("#name", answers.applicant);
  await applicant.fill("#email", email);
  await applicant.fill("#password", "e2e-password-123");
  await Promise.all([applicant.waitForNavigation(), applicant.click("form[action='/register'] button")]);
  await look(applicant, "register-check-mail");
  // The address is confirmed by the link the product mailed to it.
  await applicant.goto(`${base}${await mailedLink(email, /\/register\/confirm\?token=[0-9a-f]+/)}`);
  await look(applicant, "register-confirm");
  await Promise.all([applicant.waitForNavigation(), applicant.click("form[action='/register/confirm'] button")]);
  await look(applicant, "my-filings-empty");

  // … and files, with a mistake first: the error shows at its field.
  await applicant.goto(`${base}/procedures/new_combined/apply`);
  await look(applicant, "apply-form");
  await fillFields(applicant);
  // The browser's own checks are off: the server's, in Chinese by field, are tested.
  await applicant.fill("#f-medical_beds", "-5");
  await applicant.evaluate(() => { for (const f of document.forms) f.noValidate = true; });
  await Promise.all([applicant.waitForNavigation(), applicant.click("form button[type=submit] >> text=提交申请")]);
  const errors = await applicant.locator(".field-error").count();
  if (errors === 0) throw new Error("a wrong value was not shown at its field");
  await look(applicant, "apply-errors");
  await applicant.fill("#f-medical_beds", String(answers.form.medical_beds));
  await attachFiles(applicant);
  await Promise.all([applicant.waitForNavigation(), applicant.click("form button[type=submit] >> text=提交申请")]);
  const filing = applicant.url().split("/filings/")[1];
  if (!filing) throw new Error(`no filing page after submitting: ${applicant.url()}`);
  result.filing = filing;
  await look(applicant, "filed");

  // The window accepts it from its intake queue.
  const window = await session();
  await signIn(window, accounts.window.email, accounts.window.password, "window-inbox");
  await window.click(`a[href='/filings/${filing}']`);
  await window.waitForLoadState();
  await look(window, "window-filing");
  await press(window, "form:has(input[value=accept]) button", "window-accepted");

  // Health and civil affairs decide their own parts, each in its own session.
  const health = await session();
  const civil = await session();
  await signIn(health, accounts.health.email, accounts.health.password, "health-inbox");
  await signIn(civil, accounts.civil.email, accounts.civil.password, "civil-inbox");
  for (const [page, name] of [
    [health, "health"],
    [civil, "civil"],
  ]) {
    await page.goto(`${base}/filings/${filing}`);
    const shown = await page.locator("img.preview").evaluate((img) => img.complete && img.naturalWidth > 0);
    if (!shown) throw new Error(`${name}: the site plan image is not shown in the review page`);
    // The application (a PDF) opens in the page, in the browser's viewer.
    const [framed] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/materials/application/preview")),
      page.locator("details:has(iframe.preview) summary").first().click(),
    ]);
    if (framed.status() !== 200 || framed.headers()["content-type"] !== "application/pdf") {
      throw new Error(`${name}: the application PDF is not shown in the review page (${framed.status()})`);
    }
    await look(page, `${name}-review`);
  }
  await Promise.all([
    press(health, "form:has(input[name=action][value=approve]) button", "health-approved"),
    press(civil, "form:has(input[name=action][value=file]) button", "civil-filed"),
  ]);

  // The applicant downloads the permit once the worker has typeset it.
  let link = null;
  for (let attempt = 0; attempt < 120 && !link; attempt += 1) {
    await applicant.goto(`${base}/filings/${filing}`);
    const permit = applicant.locator("a[href*='/documents/']", { hasText: "执业许可证" });
    if ((await permit.count()) > 0) link = await permit.first().getAttribute("href");
    else await applicant.waitForTimeout(500);
  }
  if (!link) throw new Error("the permit never appeared on the applicant's page");
  await look(applicant, "decided");
  const [download] = await Promise.all([applicant.waitForEvent("download"), applicant.click(`a[href='${link}']`)]);
  const saved = `${work}/permit.pdf`;
  await download.saveAs(saved);
  result.permit = saved;
  const code = link.split("/documents/")[1];

  // Anyone verifies it, as the QR code on it leads.
  const anyone = await session();
  await anyone.goto(`${base}/verify/${code}`);
  const genuine = await anyone.locator(".genuine").count();
  if (genuine !== 1) throw new Error("the public page did not verify the permit");
  await look(anyone, "verified");
  result.code = code;

  // Policy staff read the workflows' versions and compare two of them.
  const policy = await session();
  await signIn(policy, accounts.policy.email, accounts.policy.password, "policy-versions");
  await policy.goto(`${base}/policy/workflows/new_combined/compare`);
  if (!(await policy.locator("h1").first().textContent()).includes("版本比较")) {
    throw new Error("the policy staff's compare page did not open");
  }
  await look(policy, "policy-compare");

  // They edit new_combined: an error is shown at its line, then fixed and
  // published as version 6 with its reason; the compare page lists the change.
  await policy.goto(`${base}/policy/workflows/new_combined/edit`);
  await look(policy, "policy-editor");
  const shipped = await policy.inputValue("#text");
  // Typed, the error shows without pressing anything (the editor's script).
  await policy.fill("#text", shipped.replace("within 5 workdays", "within 5 weekdays"));
  await policy.waitForFunction(() => document.getElementById("live-status").textContent.startsWith("实时检查：发现"));
  result.liveCheckMs = Number(await policy.locator("#live-status").getAttribute("data-round-trip-ms"));
  await look(policy, "policy-editor-typing");
  await press(policy, "button[value=check]", "policy-editor-error");
  const at = await policy.locator("ul.diagnostics li.error a").first().textContent();
  if (!/^第\d+行第\d+列$/.test(at)) throw new Error(`the error is not shown at its line: ${at}`);
  const fixed = shipped
    .replace("version 5 ", "version 6 ")
    .replace('fire "消防验收或备案证明" required deferrable', 'fire "消防验收或备案证明" required');
  await policy.fill("#text", fixed);
  await press(policy, "button[value=check]", "policy-editor-fixed");
  if ((await policy.locator("ul.diagnostics li.error").count()) !== 0) throw new Error("the fixed draft still has errors");
  const drawn = await policy.locator("img.diagram").evaluate((img) => img.complete && img.naturalWidth > 0);
  if (!drawn) throw new Error("the draft's diagram is not shown");
  await policy.fill("#reason", "消防验收或备案证明不再容缺受理");
  await press(policy, "button[value=publish]", "policy-published");
  if (!policy.url().endsWith("/compare?from=5&to=6")) throw new Error(`not published: ${policy.url()}`);
  if (!(await policy.locator("main").textContent()).includes("不再容缺")) throw new Error("the compare page does not list the change");
  // The applicant files again: on version 6, while the first stays on 5.
  await applicant.goto(`${base}/procedures/new_combined/apply`);
  await fillFields(applicant);
  await attachFiles(applicant);
  await Promise.all([applicant.waitForNavigation(), applicant.click("form button[type=submit] >> text=提交申请")]);
  if (!applicant.url().includes("/filings/")) throw new Error(`the second filing failed: ${applicant.url()}`);
  await look(applicant, "filed-on-version-5");
  await policy.goto(`${base}/policy`);
  const versions = await policy.locator("section", { hasText: "新建医养结合机构" }).first().textContent();
  if (!/第6版（在用）.*待受理 1 件/s.test(versions) || !/第5版.*已办结 1 件/s.test(versions)) {
    throw new Error(`the versions page does not show the new filing on 5 and the decided one on 4: ${versions}`);
  }
  await look(policy, "policy-versions-after");
  // The next year's holidays: the page offers its file, checked before it
  // takes effect (not applied here: the run shares the repository's calendars).
  await policy.goto(`${base}/policy/calendars`);
  await look(policy, "policy-calendars");
  await press(policy, "button[value=check]", "policy-calendar-checked");
  if (!(await policy.locator(".result").textContent()).includes("检查无误")) {
    throw new Error("the offered calendar file does not check");
  }
} catch (error) {
  result.error = String(error.stack || error);
} finally {
  await browser.close();
}
result.pages = shot;
result.serious = serious;
console.log(JSON.stringify(result));
process.exit(result.error || serious > 0 ? 1 : 0);
