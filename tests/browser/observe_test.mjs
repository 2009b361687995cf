// The web view in a real browser: Debian's headless Chromium, driven by puppeteer-core, opens the
// view of a running example (examples/observed_shop), finds the supervision tree and the process
// table, sorts the table, clicks kill on a supervised child (the token is in the address) and sees
// the child restarted: a new id under the same supervisor; opens the new child's page and finds its
// supervisor among those watching it, and the view's own listener in the connections panel.
// Screenshots of the tree, the table, an actor's page and the whole page go to the output folder
// (docs/observe.md shows copies).
//
//     node observe_test.mjs <path to observed_shop> <output folder>
// Every wait has a deadline; any failure exits 1 with what was missing.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";

const [shop_bin, out_dir] = process.argv.slice(2);
if (!shop_bin || !out_dir) throw new Error("usage: node observe_test.mjs <observed_shop binary> <output folder>");
fs.mkdirSync(out_dir, { recursive: true });
const deadline_ms = 15000;
const token = "drill-" + Math.floor(Math.random() * 1e9);

function fail(why) {
  console.error("browser: FAILED: " + why);
  process.exitCode = 1;
  throw new Error(why);
}

// Starts the shop on a free port (0) and waits for the line that says where its view is.
async function start_shop() {
  const child = spawn(shop_bin, ["0", token], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const url = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error("the shop did not start: " + out)), deadline_ms);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/web view: (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); res(m[1]); }
    });
    child.once("exit", (code) => rej(new Error("the shop exited with " + code + ": " + out)));
  });
  return { child, url };
}

async function wait_for(page, what, fn, ...args) {
  try {
    return await page.waitForFunction(fn, { timeout: deadline_ms, polling: 100 }, ...args);
  } catch {
    fail(`the page never showed ${what}; it shows:\n` + await page.$eval("main", (e) => e.innerText).catch(() => "(nothing)"));
  }
}

// The id of the named actor in the tree and the id of the tree node it hangs under.
const place_of = (name) => {
  const li = document.querySelector(`#tree li[data-name="${name}"]`);
  if (!li) return null;
  const parent = li.parentElement.closest("li");
  return { id: Number(li.dataset.id), parent: parent ? Number(parent.dataset.id) : 0 };
};

const { child, url } = await start_shop();
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "troupe-chromium-"));
let browser;
try {
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", "--user-data-dir=" + profile],
    timeout: deadline_ms,
    protocolTimeout: 2 * deadline_ms,
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on("console", (m) => console.log("browser[page]: " + m.text()));
  const outside = [];
  page.on("request", (r) => { if (!r.url().startsWith(url.replace(/\/#.*$/, "").replace(/\/$/, ""))) outside.push(r.url()); });
  await page.goto(url, { waitUntil: "load", timeout: deadline_ms });
  console.log("browser: loaded " + url);

  // The tree: the shop's supervisors and workers, pushed over the WebSocket.
  await wait_for(page, "the supervision tree with payments in it", () => document.querySelector('#tree li[data-name="payments"]'));
  await wait_for(page, "the live link", () => document.getElementById("link").textContent === "live");
  // The table: rows of actors, sorted by mailbox first, then by memory after a click.
  await wait_for(page, "the process table", () => document.querySelectorAll("#table tbody tr").length >= 3);
  await page.click('#table th[data-sort="memory"]');
  await wait_for(page, "the table sorted by memory", () => document.getElementById("sorted").textContent.includes("by memory"));

  // Kill payments from the tree; its supervisor starts a new one under a new id.
  const before = await page.evaluate(place_of, "payments");
  if (!before || !before.parent) fail("payments is not under a supervisor in the tree: " + JSON.stringify(before));
  console.log(`browser: payments is #${before.id} under #${before.parent}; clicking kill`);
  await page.screenshot({ path: path.join(out_dir, "observe.png") });
  await (await page.$("#tree-panel")).screenshot({ path: path.join(out_dir, "observe_tree.png") });
  await (await page.$("#table-panel")).screenshot({ path: path.join(out_dir, "observe_table.png") });
  await page.click(`#tree li[data-name="payments"] > .node button.kill`);
  await wait_for(page, "the notice that payments was killed", (id) => document.getElementById("notice").textContent.includes("killed #" + id), before.id);
  const after_handle = await wait_for(page, "payments under a new id", (name, old) => {
    const li = document.querySelector(`#tree li[data-name="${name}"]`);
    return li && Number(li.dataset.id) !== old;
  }, "payments", before.id);
  await after_handle.dispose();
  const after = await page.evaluate(place_of, "payments");
  if (after.parent !== before.parent) fail(`payments came back under #${after.parent}, not its supervisor #${before.parent}`);
  console.log(`browser: payments restarted as #${after.id} under the same supervisor #${after.parent}`);

  // The actor's page: payments is watched by its supervisor (a supervisor watches its children).
  await page.click(`#tree li[data-name="payments"] > .node .name`);
  await wait_for(page, "payments' page naming its supervisor under 'watched by'", (sup) => {
    if (document.getElementById("actor-panel").hidden) return false;
    const dt = [...document.querySelectorAll("#actor-facts dt")].find((d) => d.textContent === "watched by");
    return dt && dt.nextElementSibling.textContent.includes("#" + sup);
  }, after.parent);
  await (await page.$("#actor-panel")).screenshot({ path: path.join(out_dir, "observe_actor.png") });
  // Connections: the view's own listener, with this page's WebSocket open on it.
  await wait_for(page, "the view's own listener in the connections panel", () => {
    const row = document.querySelector('#listeners tr[data-listener="web_view"]');
    return row && Number(row.cells[1].textContent) >= 1;
  });
  // The shop gives the view no nodes function: no nodes panel.
  if (!(await page.$eval("#nodes-panel", (e) => e.hidden))) fail("the nodes panel shows, but the shop gives no nodes");
  console.log(`browser: payments' page shows its supervisor #${after.parent} watching it; connections shown`);

  // Without the token the same button is refused (403), and says so.
  await page.$eval("#token", (e) => { e.value = "wrong"; });
  await page.click(`#tree li[data-name="payments"] > .node button.kill`);
  await wait_for(page, "the refusal of a kill with a wrong token", () => document.getElementById("notice").textContent.includes("403"));
  const still = await page.evaluate(place_of, "payments");
  if (still.id !== after.id) fail("a kill with a wrong token killed payments");
  if (outside.length) fail("the page fetched from elsewhere: " + outside.join(", "));
  console.log("browser: passed: tree and table shown, payments killed and restarted under its supervisor; screenshots in " + out_dir);
} catch (e) {
  if (!process.exitCode) console.error("browser: FAILED: " + (e && e.stack || e));
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  child.kill("SIGTERM");
  fs.rmSync(profile, { recursive: true, force: true });
}
