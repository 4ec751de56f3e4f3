// Shared helpers of the bench/ scripts: options, medians, gc, Markdown tables, and the JSON
// results file every script writes to bench/results/<name>.json (read by bench/run-all.mjs to
// regenerate the tables in BENCHMARKS.md).

import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import v8 from "node:v8";
import vm from "node:vm";

v8.setFlagsFromString("--expose-gc");
/** A full garbage collection (node's gc, exposed at run time). */
export const gc = vm.runInNewContext("gc");

/**
 * `--name value` options of this process (a `--flag` followed by another option or nothing
 * reads as "true").
 * @param {string} name
 * @param {string} [dflt]
 * @returns {string | undefined}
 */
export function opt(name, dflt) {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = argv[i + 1];
  return v === undefined || v.startsWith("--") ? "true" : v;
}

/** @param {number[]} xs @returns {number} the median (upper median for even counts) */
export const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

/** @param {number[]} xs @param {number} q in [0, 1] @returns {number} the value at that rank (nearest rank, rounding down) */
export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** Seeded PRNG (the same one every script uses). @param {number} a */
export function mulberry32(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Number formatting for tables: ms with 1 decimal below 10, thousands separators above. */
export function fmtNum(v, digits = 1) {
  if (v === undefined || v === null || Number.isNaN(v)) return "n/a";
  if (typeof v === "string") return v;
  if (Math.abs(v) < 10 && !Number.isInteger(v)) return v.toFixed(digits);
  return Math.round(v).toLocaleString("en-US");
}
export const ratio = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) + "×" : "n/a");

/**
 * A Markdown table with padded columns (first column left-aligned, the others right-aligned).
 * @param {string[]} header
 * @param {Array<Array<string | number>>} rows
 * @returns {string}
 */
export function mdTable(header, rows) {
  const cells = [header, ...rows].map((r) => r.map((c) => String(c)));
  const w = header.map((_, i) => Math.max(3, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (r) =>
    "| " + r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(" | ") + " |";
  const sep = "| " + w.map((n, i) => (i === 0 ? "-".repeat(n) : "-".repeat(n - 1) + ":")).join(" | ") + " |";
  return [line(cells[0]), sep, ...cells.slice(1).map(line)].join("\n");
}

/** The machine, for the record. */
export function machine() {
  const cpus = os.cpus();
  return {
    node: process.version,
    cores: cpus.length,
    cpu: cpus[0]?.model?.trim() ?? "?",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
  };
}

/**
 * Collects what a script prints as tables and notes, and writes it (plus any raw data) to
 * bench/results/<name>.json.
 */
export class Report {
  /** @param {string} name file name (r1, q1, m1, z1, h1) @param {string} title */
  constructor(name, title) {
    this.name = name;
    this.out = {
      name,
      title,
      date: new Date().toISOString(),
      machine: machine(),
      loadavg: { start: os.loadavg().map((x) => +x.toFixed(2)), end: null },
      argv: process.argv.slice(2),
      tables: [],
      notes: [],
      data: {},
    };
  }

  /** Prints a heading line (not stored). */
  log(text) {
    console.log(text);
  }

  /**
   * Prints and records a table.
   * @param {string} title
   * @param {string[]} header
   * @param {Array<Array<string | number>>} rows
   * @param {string} [note] printed below the table
   */
  table(title, header, rows, note) {
    const md = mdTable(header, rows);
    console.log(`\n${title}\n${md}`);
    if (note) console.log(note);
    this.out.tables.push({ title, markdown: md, note: note ?? "" });
  }

  /** Prints and records a note. */
  note(text) {
    console.log(text);
    this.out.notes.push(text);
  }

  /** Records raw data under `key`. */
  set(key, value) {
    this.out.data[key] = value;
  }

  /** Writes bench/results/<name>.json. */
  save() {
    this.out.loadavg.end = os.loadavg().map((x) => +x.toFixed(2));
    const dir = new URL("../results/", import.meta.url);
    mkdirSync(dir, { recursive: true });
    const file = new URL(`${this.name}.json`, dir);
    writeFileSync(file, JSON.stringify(this.out, null, 2) + "\n");
    console.log(`\n(results written to bench/results/${this.name}.json)`);
  }
}
