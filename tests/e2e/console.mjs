// The console end to end in headless Chromium (playwright-core driving the system browser):
//   node tests/e2e/console.mjs BASE_URL READER_USER READER_PASSWORD SCREENSHOT_DIR
// against `coffer serve --demo`. Logs in with the keyboard, backs Test_Cluster up and watches the
// progress bar reach 100%, restores one table and sees the restore finish, restores it again to a
// point in time (commitlogs replayed), copies a backup to a second destination and finds both
// counted and named, checks the page at a narrow width, then logs in as a reader and finds no
// action buttons. Any failure leaves a screenshot in SCREENSHOT_DIR.
import { createRequire } from "node:module";
import { mkdirSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), ".tools", "node_modules", "_"));
const { chromium } = require("playwright-core");

const [base, readerUser, readerPassword, shots] = process.argv.slice(2);
const browserPath = process.env.COFFER_TEST_CHROMIUM || "/usr/bin/chromium";
mkdirSync(shots, { recursive: true });

function check(ok, what) {
  if (!ok) throw new Error(`expected: ${what}`);
}

async function logIn(page, user, password) {
  await page.goto(`${base}/ui/`);
  const name = page.locator("#login-form input[name=username]");
  await name.waitFor();
  // The keyboard alone: the name field has the focus, Tab reaches the password, Enter sends.
  check(await name.evaluate((el) => el === document.activeElement), "the user name field has the focus");
  await page.keyboard.type(user);
  await page.keyboard.press("Tab");
  await page.keyboard.type(password);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Overview" }).waitFor();
}

const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
let step = "start";
try {
  step = "log in as the demo operator";
  await logIn(page, "demo", "demo-password");

  step = "back up Test_Cluster from the overview";
  const backupNow = page.getByRole("button", { name: "Back up Test_Cluster now" });
  await backupNow.focus();
  await page.keyboard.press("Enter");
  const dialog = page.locator("dialog#confirm");
  await dialog.waitFor();
  check((await dialog.locator("h2").textContent()).includes("Test_Cluster"), "the confirmation names the cluster");
  await dialog.getByRole("button", { name: "Back up now" }).click();
  await page.getByRole("heading", { name: "Operations" }).waitFor();

  step = "watch the backup's progress bar reach 100%";
  const backupRow = page.locator("tr[data-kind=backup]").first();
  await backupRow.waitFor();
  await page.waitForFunction(() => {
    const row = document.querySelector("tr[data-kind=backup]");
    const bar = row && row.querySelector("progress");
    return row && row.dataset.state === "succeeded" && bar && Number(bar.value) === 100;
  }, null, { timeout: 60000 });

  step = "open the new backup and restore one table";
  await page.getByRole("link", { name: "Backups" }).click();
  await page.getByRole("heading", { name: "Backups" }).waitFor();
  await page.locator("select[name=source]").selectOption({ label: "Test_Cluster (cluster)" });
  const first = page.locator("tbody tr td:nth-child(2) a").first();
  await first.waitFor();
  await first.click();
  await page.getByRole("heading", { name: "Nodes" }).waitFor();
  await page.getByRole("button", { name: "Restore…" }).click();
  await dialog.waitFor();
  await dialog.getByLabel("Back into the same source").check();
  await dialog.getByLabel("Keyspace1.users").check();
  await dialog.getByRole("button", { name: "Restore" }).click();
  await page.getByRole("heading", { name: "Operations" }).waitFor();

  step = "see the restore finish";
  await page.waitForFunction(() => {
    const row = document.querySelector("tr[data-kind=restore]");
    return row && row.dataset.state === "succeeded";
  }, null, { timeout: 60000 });

  step = "wait until Test_Cluster's commitlogs are archived past its backup";
  const pitReady = await page.evaluate(async () => {
    const get = async (path) => (await fetch(path, { headers: { "x-requested-with": "e2e" } })).json();
    const cluster = (await get("/admin/v1/sources?kind=cluster")).find((c) => c.name === "Test_Cluster");
    const newest = (await get(`/admin/v1/backups?source_id=${cluster.id}&limit=1`))[0];
    for (let i = 0; i < 120; i++) {
      const pit = await get(`/admin/v1/sources/${cluster.id}/point-in-time`);
      if (pit.latest && Date.parse(pit.latest) >= Date.parse(newest.created_at)) return pit;
      await new Promise((r) => setTimeout(r, 500));
    }
    return null;
  });
  check(pitReady && pitReady.archiving, "the demo archives Test_Cluster's commitlogs past its backup within a minute");

  step = "restore one table of Test_Cluster to a point in time";
  await page.goto(`${base}/ui/#/backups`);
  await page.locator("select[name=source]").selectOption({ label: "Test_Cluster (cluster)" });
  await page.locator("tbody tr td:nth-child(2) a").first().click();
  await page.getByRole("heading", { name: "Nodes" }).waitFor();
  await page.getByRole("button", { name: "Restore…" }).click();
  await dialog.waitFor();
  const moment = dialog.getByLabel("Moment (your local time)");
  check(await moment.isDisabled(), "the moment is asked for only once point in time is ticked");
  await dialog.getByLabel("Replay archived commitlogs up to a moment").check();
  check(!(await moment.isDisabled()), "ticking point in time asks for the moment");
  check((await moment.inputValue()) === (await moment.getAttribute("max")), "the moment starts at the newest one archived");
  await dialog.getByLabel("Back into the same source").check();
  await dialog.getByLabel("Keyspace1.users").check();
  await dialog.getByRole("button", { name: "Restore" }).click();
  await page.getByRole("heading", { name: "Operations" }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll("tr[data-kind=restore][data-state=succeeded]").length >= 2, null, { timeout: 60000 });
  const replayed = await page.evaluate(async () => {
    const get = async (path) => (await fetch(path, { headers: { "x-requested-with": "e2e" } })).json();
    const [newest] = await get("/admin/v1/operations?kind=restore&limit=1");
    const detail = await get(`/admin/v1/operations/${newest.id}`);
    return detail.tasks.filter((t) => t.spec.type === "restore_commitlogs" && t.state === "succeeded").length;
  });
  check(replayed === 3, `the point-in-time restore placed commitlogs on the 3 nodes (${replayed})`);

  step = "copy Test_Cluster's newest backup to a second destination";
  const offsite = mkdtempSync(path.join(os.tmpdir(), "coffer-e2e-offsite-"));
  const copied = await page.evaluate(async (dir) => {
    const call = async (method, p, body) => {
      const init = { method, headers: { "x-requested-with": "e2e", "content-type": "application/json" } };
      if (body) init.body = JSON.stringify(body);
      return (await fetch(p, init)).json();
    };
    const cluster = (await call("GET", "/admin/v1/sources?kind=cluster")).find((c) => c.name === "Test_Cluster");
    const [newest] = await call("GET", `/admin/v1/backups?source_id=${cluster.id}&limit=1`);
    const destination = await call("POST", "/admin/v1/destinations", { name: "e2e-offsite", kind: "localfs", path: dir });
    const op = await call("POST", `/admin/v1/backups/${newest.id}/copy`, { destination_id: destination.id });
    for (let i = 0; i < 120; i++) {
      const o = await call("GET", `/admin/v1/operations/${op.id}`);
      if (o.state === "succeeded") return newest.id;
      if (["failed", "cancelled"].includes(o.state)) return `copy ${o.state}: ${o.error}`;
      await new Promise((r) => setTimeout(r, 500));
    }
    return "the copy did not finish within a minute";
  }, offsite);
  check(/^[0-9a-f-]{36}$/.test(copied), `the copy succeeded (${copied})`);

  step = "see the backup counted with two copies and its destinations named";
  await page.goto(`${base}/ui/#/backups`);
  await page.locator("select[name=source]").selectOption({ label: "Test_Cluster (cluster)" });
  const copiedRow = page.locator(`tbody tr:has(a[href="#/backups/${copied}"])`);
  await copiedRow.waitFor();
  const copies = (await copiedRow.locator("td[data-field=copies]").textContent()).trim();
  check(copies === "2", `the Copies column counts the backup and its copy (${copies})`);
  await copiedRow.locator(`a[href="#/backups/${copied}"]`).click();
  const destinations = page.locator("dd[data-field=destinations]");
  await destinations.waitFor();
  const named = await destinations.textContent();
  check(named.includes("the server's own store") && named.includes("e2e-offsite (localfs), a copy"), `the destinations are named (${named})`);
  check(!/[0-9a-f]{8}-[0-9a-f]{4}-/.test(named), `no destination shows as a bare id (${named})`);

  step = "read the pages on a narrow window";
  await page.setViewportSize({ width: 390, height: 800 });
  for (const view of ["overview", "backups", "operations"]) {
    await page.goto(`${base}/ui/#/${view}`);
    await page.locator("#view h1").waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `the ${view} page fits 390 px (overflows by ${overflow} px)`);
  }
  // The overview's table reflows into one card per source: nothing of it is cut off or hidden
  // behind a horizontal scroll.
  await page.goto(`${base}/ui/#/overview`);
  await page.locator("table.reflow tbody tr").first().waitFor();
  const clipped = await page.evaluate(() => {
    const wrap = document.querySelector("table.reflow").closest(".table-wrap");
    return wrap.scrollWidth - wrap.clientWidth;
  });
  check(clipped <= 1, `the overview table fits 390 px without scrolling (${clipped} px hidden)`);
  await page.screenshot({ path: path.join(shots, "overview-390.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  step = "log out";
  await page.getByRole("button", { name: "Log out" }).click();
  await page.locator("#login-form").waitFor();

  step = "log in as a reader and find no action";
  await logIn(page, readerUser, readerPassword);
  check((await page.locator("button[data-action]").count()) === 0, "no action button on the overview");
  await page.goto(`${base}/ui/#/backups`);
  const any = page.locator("tbody tr td:nth-child(2) a").first();
  await any.waitFor();
  await any.click();
  await page.getByRole("heading", { name: "Nodes" }).waitFor();
  check((await page.locator("button[data-action]").count()) === 0, "no action button on a backup");
  await page.goto(`${base}/ui/#/operations`);
  await page.locator("tr[data-operation]").first().waitFor();
  check((await page.locator("button[data-action]").count()) === 0, "no action button on the operations");
  console.log("console end to end: every step passed");
} catch (e) {
  const file = path.join(shots, "console-failure.png");
  await page.screenshot({ path: file, fullPage: true }).catch(() => {});
  console.error(`console end to end failed at '${step}': ${e.message}\nscreenshot: ${file}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
