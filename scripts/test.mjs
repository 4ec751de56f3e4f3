// npm test: installs what is missing, builds what changed, then runs every suite:
//   native ctest · wasm ctest (Catch2 under node) · tsc type check of js/index.d.ts ·
//   docs/api generated from it and unchanged (TypeDoc) ·
//   node --test tests/js/ · node --test tests/e2e/ (headless Chromium) · the app test
//   (scripts/app-test.mjs: the packed tarball in Node, tsc, Vite, esbuild, plain files, a Worker).
// A failing step does not stop independent ones; steps whose prerequisite failed are skipped.
// Prints a summary and exits non-zero if anything failed or was skipped.

import { join } from "node:path";
import { docs } from "./docs.mjs";
import { bootstrap, build, ctest, run, ROOT } from "./lib.mjs";

const node = process.execPath;
const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");

/** @type {Array<{ name: string, needs: string[], fn: () => Promise<void> }>} */
const steps = [
  { name: "install", needs: [], fn: bootstrap },
  { name: "native build", needs: ["install"], fn: () => build("native") },
  { name: "native ctest", needs: ["native build"], fn: () => ctest("native") },
  { name: "wasm build", needs: ["install"], fn: () => build("wasm") },
  { name: "wasm ctest", needs: ["wasm build"], fn: () => ctest("wasm") },
  {
    name: "type check (tsc)",
    needs: ["install"],
    fn: () => run(node, [tsc, "--noEmit", "-p", "tests/types/tsconfig.json"]),
  },
  { name: "api docs up to date", needs: ["install"], fn: () => docs(true) },
  { name: "js tests", needs: ["wasm build"], fn: () => run(node, ["--test", "tests/js/"]) },
  { name: "browser e2e", needs: ["wasm build"], fn: () => run(node, ["--test", "tests/e2e/"]) },
  // Imported when run: it needs playwright-core, which the install step provides.
  { name: "app test", needs: ["wasm build"], fn: async () => (await import("./app-test.mjs")).appTest() },
];

/** @type {Map<string, { status: "PASS" | "FAIL" | "SKIP", seconds: number, note: string }>} */
const results = new Map();
for (const step of steps) {
  const blocker = step.needs.find((n) => results.get(n)?.status !== "PASS");
  if (blocker !== undefined) {
    results.set(step.name, { status: "SKIP", seconds: 0, note: `needs ${blocker}` });
    continue;
  }
  console.log(`\n##### ${step.name} #####`);
  const start = performance.now();
  try {
    await step.fn();
    results.set(step.name, { status: "PASS", seconds: (performance.now() - start) / 1000, note: "" });
  } catch (err) {
    const seconds = (performance.now() - start) / 1000;
    results.set(step.name, { status: "FAIL", seconds, note: err.message });
  }
}

console.log("\n##### npm test summary #####");
for (const [name, r] of results) {
  const time = r.status === "SKIP" ? "" : `${r.seconds.toFixed(1)} s`;
  console.log(`  ${r.status}  ${name.padEnd(20)} ${time.padStart(8)}  ${r.note}`.trimEnd());
}
const failed = [...results.values()].filter((r) => r.status !== "PASS").length;
if (failed === 0) {
  console.log(`npm test: all ${results.size} steps passed`);
} else {
  console.log(`npm test: FAILED (${failed} of ${results.size} steps failed or were skipped)`);
  process.exitCode = 1;
}
