// The chat in a real browser: Debian's headless Chromium, driven by puppeteer-core. Two pages
// join a room and see each other's lines; a third user over raw TCP (as with nc) sees them too,
// and is seen; the pages' presence lists name all three. A screenshot goes to the output folder.
//
//     node chat_test.mjs <path to the chat binary> <output folder>
// Every wait has a deadline; any failure exits 1 with what was missing.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";

const [chat_bin, out_dir] = process.argv.slice(2);
if (!chat_bin || !out_dir) throw new Error("usage: node chat_test.mjs <chat binary> <output folder>");
fs.mkdirSync(out_dir, { recursive: true });
const deadline_ms = 15000;

function fail(why) {
  console.error("browser: FAILED: " + why);
  process.exitCode = 1;
  throw new Error(why);
}

// Two free ports next to each other: the chat serves nc on the first and the page on the next.
async function free_port_pair() {
  for (let tries = 0; tries < 50; ++tries) {
    const p = 20000 + Math.floor(Math.random() * 30000);
    const ok = await Promise.all([p, p + 1].map((q) => new Promise((res) => {
      const s = net.createServer().once("error", () => res(false)).listen(q, "127.0.0.1", () => s.close(() => res(true)));
    })));
    if (ok.every(Boolean)) return p;
  }
  fail("no two free ports");
}

// Starts the chat and waits for the two lines that say where it listens.
async function start_chat(port) {
  const child = spawn(chat_bin, [String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const url = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error("the chat did not start: " + out)), deadline_ms);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/in a browser: (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); res(m[1]); }
    });
    child.once("exit", (code) => rej(new Error("the chat exited with " + code + ": " + out)));
  });
  return { child, url };
}

// A line client over raw TCP, as nc is.
function tcp_user(port) {
  const sock = net.connect(port, "127.0.0.1");
  let buf = "";
  const waiters = [];
  sock.setEncoding("utf8");
  sock.on("data", (d) => { buf += d; for (const w of waiters.splice(0)) w(); });
  return {
    send: (line) => sock.write(line + "\n"),
    wait_for: (text) => new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error("nc user never saw '" + text + "'; got:\n" + buf)), deadline_ms);
      const check = () => { if (buf.includes(text)) { clearTimeout(timer); res(); } else waiters.push(check); };
      check();
    }),
    close: () => sock.destroy(),
  };
}

async function join(browser, url, nick, room) {
  const page = await browser.newPage();
  await page.setViewport({ width: 900, height: 500 });
  page.on("console", (m) => console.log(`browser[${nick}]: ${m.text()}`));
  await page.goto(url, { waitUntil: "load", timeout: deadline_ms });
  console.log(`browser: ${nick} loaded the page`);
  await page.type("#nick", nick);
  await page.$eval("#room", (e, r) => { e.value = r; }, room);
  await page.click("#join");
  console.log(`browser: ${nick} clicked join`);
  await saw(page, nick, "* you are in " + room);
  return page;
}

// Polls on a timer: a page in a background tab gets no animation frames, so the default
// (requestAnimationFrame) polling would never run there.
async function saw(page, who, text) {
  await page.bringToFront();  // a background tab may be frozen, and would answer nothing
  try {
    await page.waitForFunction((t) => document.getElementById("log").textContent.includes(t), { timeout: deadline_ms, polling: 100 }, text);
  } catch {
    fail(`${who}'s page never showed '${text}'; it shows:\n` + await page.$eval("#log", (e) => e.innerText));
  }
}

async function say(page, line) {
  await page.bringToFront();
  await page.type("#line", line);
  await page.click("#send");
}

const port = await free_port_pair();
const { child, url } = await start_chat(port);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "troupe-chromium-"));
let browser;
try {
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           // a container or chroot may have a tiny or no /dev/shm: keep shared memory in /tmp
           "--disable-dev-shm-usage",
           "--user-data-dir=" + profile],
    timeout: deadline_ms,
    protocolTimeout: 2 * deadline_ms,  // a hung page fails within the test's time, not after 3 min
  });
  const ann = await join(browser, url, "ann", "lobby");
  const bea = await join(browser, url, "bea", "lobby");
  await saw(ann, "ann", "* bea joined lobby");

  const cy = tcp_user(port);
  await cy.wait_for("welcome");
  cy.send("/nick cy");
  await cy.wait_for("* you are cy");
  cy.send("/join lobby");
  await cy.wait_for("* you are in lobby");

  await say(ann, "hello from ann's browser");
  await saw(bea, "bea", "ann: hello from ann's browser");
  await cy.wait_for("ann: hello from ann's browser");
  await say(bea, "and bea's");
  await saw(ann, "ann", "bea: and bea's");
  await cy.wait_for("bea: and bea's");
  cy.send("hi from nc");
  await saw(ann, "ann", "cy: hi from nc");
  await saw(bea, "bea", "cy: hi from nc");

  // Presence: both pages list everyone in the room.
  for (const [page, who] of [[ann, "ann"], [bea, "bea"]]) {
    await page.bringToFront();
    try {
      await page.waitForFunction(() => {
        const names = [...document.querySelectorAll("#who li")].map((li) => li.textContent);
        return ["ann", "bea", "cy"].every((n) => names.includes(n));
      }, { timeout: deadline_ms, polling: 100 });
    } catch {
      fail(`${who}'s presence list never named ann, bea and cy: ` + await page.$eval("#who", (e) => e.innerText));
    }
  }
  await ann.bringToFront();
  await ann.screenshot({ path: path.join(out_dir, "chat.png") });
  cy.close();
  console.log("browser: passed: two pages and an nc user shared a room; screenshot " + path.join(out_dir, "chat.png"));
} catch (e) {
  if (!process.exitCode) console.error("browser: FAILED: " + (e && e.stack || e));
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  child.kill("SIGTERM");
  fs.rmSync(profile, { recursive: true, force: true });
}
