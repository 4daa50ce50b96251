// The API documentation page in headless Chromium (playwright-core driving the system browser):
//   node tests/e2e/docs.mjs BASE_URL SCREENSHOT_DIR
// For each dialect's document and the merged one, opens /docs?spec=<name>, waits for Swagger UI to
// render it, and finds the selector on that dialect, every operation of the document listed (method
// and path), and every schema of its components in the Schemas section. Saves a screenshot per
// dialect (docs-<name>.png) and, on a failure, docs-failure.png.
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), ".tools", "node_modules", "_"));
const { chromium } = require("playwright-core");

const [base, shots] = process.argv.slice(2);
const browserPath = process.env.COFFER_TEST_CHROMIUM || "/usr/bin/chromium";
mkdirSync(shots, { recursive: true });

const DIALECTS = ["admin", "agent", "cloudbackup", "clouddatabases", "identity", "instaclustr", "opscenter", "all"];
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

function check(ok, what) {
  if (!ok) throw new Error(`expected: ${what}`);
}

function missing(wanted, found) {
  const have = new Set(found);
  return wanted.filter((w) => !have.has(w));
}

const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
let step = "start";
try {
  for (const name of DIALECTS) {
    step = `read the ${name} document`;
    const url = name === "all" ? "/openapi.json" : `/openapi/${name}.json`;
    const response = await page.request.get(`${base}${url}`);
    check(response.ok(), `${url} answers 200 (${response.status()})`);
    const doc = await response.json();
    const operations = [];
    for (const [p, item] of Object.entries(doc.paths || {})) {
      for (const m of METHODS) if (item[m]) operations.push(`${m.toUpperCase()} ${p}`);
    }
    const schemas = Object.keys((doc.components && doc.components.schemas) || {});
    check(operations.length > 0, `the ${name} document has operations`);

    step = `open /docs?spec=${name} and wait for Swagger UI`;
    errors.length = 0;
    await page.goto(`${base}/docs?spec=${name}`);
    check((await page.locator("#dialect").inputValue()) === name, `the selector shows ${name}`);
    await page.locator(".swagger-ui .information-container .title").waitFor({ timeout: 60000 });
    await page.locator(".swagger-ui .opblock").first().waitFor({ timeout: 60000 });
    const title = (await page.locator(".swagger-ui .information-container .title").textContent()).trim();
    check(title.startsWith(doc.info.title), `the page's title is the document's (${title} / ${doc.info.title})`);

    step = `find every operation of ${name} listed`;
    const listed = await page.evaluate(() =>
      [...document.querySelectorAll(".swagger-ui .opblock")].map((op) => {
        const method = op.querySelector(".opblock-summary-method").textContent.trim().toUpperCase();
        const where = op.querySelector(".opblock-summary-path");
        return `${method} ${where.getAttribute("data-path") || where.textContent.replace(/\u200b/g, "").trim()}`;
      }),
    );
    const unlisted = missing(operations, listed);
    check(unlisted.length === 0, `every operation of ${name} listed; missing ${unlisted.length}: ${unlisted.slice(0, 5).join(", ")}`);

    step = `find every schema of ${name} in the Schemas section`;
    if (schemas.length > 0) {
      const models = page.locator(".swagger-ui section.models");
      await models.waitFor({ timeout: 30000 });
      check(/Schemas/.test(await models.locator("h4").first().textContent()), "the models section is titled Schemas");
      const shown = await page.evaluate(() =>
        [...document.querySelectorAll(".swagger-ui section.models .model-container")].map((m) => (m.id || "").replace(/^model-/, "")),
      );
      const absent = missing(schemas, shown);
      check(absent.length === 0, `every schema of ${name} shown (${shown.length} of ${schemas.length}); missing: ${absent.slice(0, 8).join(", ")}`);

      step = `open a schema of ${name} and see its fields`;
      const [model, shape] = Object.entries(doc.components.schemas).find(([, s]) => s.properties && Object.keys(s.properties).length) || [];
      if (model) {
        const field = Object.keys(shape.properties)[0];
        const container = page.locator(`.swagger-ui section.models [id="model-${model}"]`);
        await container.locator("button").first().click();
        await container.locator(".property-row", { hasText: field }).first().waitFor({ timeout: 10000 });
      }
    }
    check(errors.length === 0, `no script error on the ${name} page (${errors.join("; ")})`);
    await page.screenshot({ path: path.join(shots, `docs-${name}.png`), fullPage: true });
    console.log(`docs ${name}: ${operations.length} operations and ${schemas.length} schemas shown`);
  }
  console.log("docs end to end: every dialect rendered");
} catch (e) {
  const file = path.join(shots, "docs-failure.png");
  await page.screenshot({ path: file, fullPage: true }).catch(() => {});
  console.error(`docs end to end failed at '${step}': ${e.message}\nscreenshot: ${file}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
