// Drives the simulator's dashboard (--admin) in Debian's headless Chromium: the page shows the
// clients with their accounts, the stubs and faults in force, and a real extension call (PHP,
// apicore.php) appearing live in the request journal. Writes a screenshot to $SCREENSHOT_DIR.
// Fails loudly on anything missing; never skips.
import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import assert from "node:assert/strict";

const here = path.dirname(new URL(import.meta.url).pathname);
const sim = process.env.MIKROBILL_SIM;
const shots = process.env.SCREENSHOT_DIR || path.join(here, "out");
assert.ok(sim, "MIKROBILL_SIM must name the simulator binary");
const KEY1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY2 = "EBESExQVFhcYGRobHB0eHw==";
const TIMEOUT = 20000;

const work = mkdtempSync(path.join(tmpdir(), "mikrobill-dashboard-"));
// The second stub's code is beyond 2^53, written as text (a JS number cannot hold it): the page
// must show it as the server wrote it.
const CODE_MAX = "9223372036854775807";
writeFileSync(path.join(work, "config.json"), JSON.stringify({
  key1: KEY1, key2: KEY2,
  cashiers: [{ login: "api", password: "secret" }],
  stubs: [{ path: "API.Tariffs.*.Name", return: "Unlimited 100" },
    { path: "API.Reports.Huge", return: "Huge", code: "CODE_MAX" }],
}).replace('"CODE_MAX"', CODE_MAX));

let child = null;
let browser = null;
const consoleErrors = [];

function startSimulator() {
  child = spawn(sim, ["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
    "--config", path.join(work, "config.json")], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => reject(new Error("simulator did not start: " + got)), TIMEOUT);
    child.on("exit", (code) => reject(new Error("simulator exited early: " + code)));
    lines.on("line", (line) => {
      got.push(line);
      if (got.length === 2) {
        clearTimeout(timer);
        const port = /^listening on 127\.0\.0\.1:(\d+)$/.exec(got[0]);
        const admin = /^admin on (http:\/\/[0-9.:]+\/)$/.exec(got[1]);
        if (!port || !admin) reject(new Error("unexpected startup lines: " + got));
        else resolve({ port: Number(port[1]), admin: admin[1] });
      }
    });
  });
}

async function main() {
  const { port, admin } = await startSimulator();
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(TIMEOUT);
  consoleErrors.length = 0;
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  // The page runs under its own Content-Security-Policy: a blocked script or style would show here.
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) consoleErrors.push(m.text());
  });
  if (process.env.DASHBOARD_DEBUG) {
    page.on("response", (r) => console.error("response", r.status(), r.url()));
    page.on("request", (r) => console.error("request", r.url()));
    page.on("requestfailed", (r) => console.error("failed", r.url(), r.failure()));
  }
  const response = await page.goto(admin);
  const headers = response.headers();
  assert.equal(headers["x-frame-options"], "DENY");
  assert.match(headers["content-security-policy"], /frame-ancestors 'none'/);
  await page.locator("#status", { hasText: "live" }).waitFor();

  // Clients with their accounts, the stub from the config; account passwords never shown.
  await page.locator("#clients td", { hasText: "633824158637492" }).first().waitFor();
  await page.locator("#clients td", { hasText: "28236356495083 1.1.1.1 AA:AA:AA:AA:AA:AA ivanov" }).waitFor();
  await page.locator("#stubs td", { hasText: "API.Tariffs.*.Name" }).waitFor();
  await page.locator("#stubs td", { hasText: '"Huge" code ' + CODE_MAX }).waitFor();
  // A fault added at run time shows up too.
  const added = await fetch(admin + "api/faults", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ path: "API.GetClients", action: "delay", delay_ms: 10 }),
  });
  assert.equal(added.status, 200);
  await page.locator("#faults td", { hasText: "API.GetClients" }).waitFor();

  // The real extension call.
  const out = execFileSync("php", [path.join(here, "extension.php"), String(port)],
    { encoding: "utf8", timeout: TIMEOUT });
  assert.equal(out, '{"return":"Unlimited 100","code":0}\n{"return":"OK","code":0}\n' +
    '{"return":"Huge","code":' + CODE_MAX + '}\n' +
    '[{"return":"OK","code":0,"path":"API.Client.633824158637492.AutorizeInfo.Accounts.28236356495083.Password"}]\n' +
    '101\n');

  const stubRow = page.locator("#journal tr", { hasText: "API.Tariffs.7.Name" });
  await stubRow.waitFor();
  assert.match(await stubRow.innerText(), /stub #1/);
  // The reply's text is in the row.
  assert.match(await stubRow.innerText(), /\{"return":"Unlimited 100","code":0\}/);
  // The refused login: its row names the login tried and the reason.
  const refused = page.locator("#journal tr", { hasText: "login refused" });
  await refused.waitFor();
  assert.match(await refused.innerText(), /\bapi\b[\s\S]*incorrect login or password/);
  const setRow = page.locator("#journal tr", { hasText: "Renamed from the extension" });
  await setRow.waitFor();
  assert.match(await setRow.innerText(), /api/);
  await page.locator("#clients td", { hasText: "Renamed from the extension" }).waitFor();
  const hugeRow = page.locator("#journal tr", { hasText: "API.Reports.Huge" });
  await hugeRow.waitFor();
  assert.match(await hugeRow.innerText(), new RegExp("\\b" + CODE_MAX + "\\b"));
  await page.locator("#count-disconnects", { hasText: "disconnects: 1" }).waitFor();

  // The batch that set an account password is in the journal, its password masked.
  const batchRow = page.locator("#journal tr", { hasText: '"Password":"***"' });
  await batchRow.waitFor();
  const html = await page.content();
  for (const secret of ["pass1", "batch-secret-7", KEY1, KEY2]) {
    assert.ok(!html.includes(secret), "the dashboard shows a secret: " + secret);
  }
  mkdirSync(shots, { recursive: true });
  const file = path.join(shots, "dashboard.png");
  await page.screenshot({ path: file, fullPage: true });
  assert.deepEqual(consoleErrors, []);
  console.log("dashboard test passed; screenshot: " + file);
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  if (child && child.exitCode === null) child.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, async () => { await cleanup(); process.exit(1); });
}
try {
  await main();
} catch (e) {
  console.error("dashboard test FAILED:", e);
  if (browser) {
    for (const ctx of browser.contexts()) {
      for (const p of ctx.pages()) {
        console.error("page status:", await p.locator("#status").innerText().catch((x) => String(x)));
        console.error("page errors:", consoleErrors);
        mkdirSync(shots, { recursive: true });
        await p.screenshot({ path: path.join(shots, "dashboard-failure.png"), fullPage: true }).catch(() => {});
      }
    }
  }
  process.exitCode = 1;
} finally {
  await cleanup();
}
