// Shared helpers of the repo scripts: running commands, installing what is missing, building.
// Everything here is idempotent and skips work that is already done.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Absolute path of the repository root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Debian packages the build and the tests need (a fresh Debian 12 has none of them). */
export const APT_PACKAGES = ["emscripten", "nlohmann-json3-dev", "catch2", "chromium", "ninja-build"];

/** Parallel jobs for ninja: CRDTDB_JOBS, else 2 (the machine has 2 cores). */
export const JOBS = process.env.CRDTDB_JOBS ?? "2";

/** Environment for Emscripten 3.1.6: its optimizer needs Debian's node modules (acorn). */
export const EMSCRIPTEN_ENV = {
  ...process.env,
  NODE_PATH: [process.env.NODE_PATH, "/usr/share/nodejs"].filter(Boolean).join(delimiter),
};

/**
 * @param {string} moduleUrl the caller's import.meta.url
 * @returns {boolean} whether that module is the script node was started with
 */
export function isMain(moduleUrl) {
  return process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === moduleUrl;
}

/**
 * Prints a step banner.
 * @param {string} text
 */
export function banner(text) {
  console.log(`\n=== ${text} ===`);
}

/**
 * Runs a command with inherited stdio.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv }} [opts]
 * @returns {Promise<void>} rejects when the command cannot start or exits non-zero
 */
export function run(cmd, args, opts = {}) {
  console.log(`$ ${[cmd, ...args].join(" ")}`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: "inherit", cwd: opts.cwd ?? ROOT, env: opts.env });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(" ")} exited with ${signal ?? `code ${code}`}`));
    });
  });
}

/**
 * @param {string} cmd
 * @returns {boolean} whether `cmd` is an executable on PATH
 */
export function onPath(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Installs the Debian packages unless every tool they provide is already there. */
export async function ensureSystemPackages() {
  const missing = [];
  if (!onPath("emcc")) missing.push("emcc");
  if (!existsSync("/usr/include/nlohmann")) missing.push("/usr/include/nlohmann");
  if (!existsSync("/usr/include/catch2")) missing.push("/usr/include/catch2");
  if (!existsSync("/usr/bin/chromium")) missing.push("/usr/bin/chromium");
  if (!onPath("ninja")) missing.push("ninja");
  if (!onPath("cmake")) missing.push("cmake");
  if (missing.length === 0) {
    console.log("system packages: present (emcc, nlohmann, catch2, chromium, ninja, cmake)");
    return;
  }
  banner(`installing system packages (missing: ${missing.join(", ")})`);
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    throw new Error(
      `missing ${missing.join(", ")}; run as root, or install them yourself: ` +
        `apt-get install -y ${APT_PACKAGES.join(" ")} cmake`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  await run("apt-get", ["update"], { env });
  // cmake ships with the usual base image; add it only where it is missing.
  const packages = onPath("cmake") ? APT_PACKAGES : [...APT_PACKAGES, "cmake"];
  await run("apt-get", ["install", "-y", ...packages], { env });
}

/** Runs `npm ci` when node_modules is missing or older than package-lock.json. */
export async function ensureNodeModules() {
  const modules = join(ROOT, "node_modules");
  const lock = join(ROOT, "package-lock.json");
  const marker = join(modules, ".package-lock.json"); // npm rewrites it on every install
  const stamp = existsSync(marker) ? marker : modules;
  if (existsSync(modules) && statSync(stamp).mtimeMs >= statSync(lock).mtimeMs) {
    console.log("node_modules: up to date");
    return;
  }
  banner("installing node modules (npm ci)");
  await run("npm", ["ci", "--no-audit", "--no-fund"]);
}

/** Installs whatever is missing: Debian packages, then node modules. */
export async function bootstrap() {
  await ensureSystemPackages();
  await ensureNodeModules();
}

/**
 * Configures (only when build.ninja is missing) and builds one CMake tree with Ninja.
 * @param {"native" | "wasm"} kind
 */
export async function build(kind) {
  const dir = join(ROOT, "build", kind);
  const configured = existsSync(join(dir, "build.ninja"));
  if (kind === "native") {
    banner("native build (build/native, Debug + sanitizers)");
    if (!configured) {
      await run("cmake", ["-S", ".", "-B", "build/native", "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Debug"]);
    }
    await run("cmake", ["--build", "build/native", "-j", JOBS]);
  } else {
    banner("wasm build (build/wasm → dist/crdtdb.mjs + dist/crdtdb.wasm)");
    const env = EMSCRIPTEN_ENV;
    if (!configured) {
      await run(
        "emcmake",
        ["cmake", "-S", ".", "-B", "build/wasm", "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"],
        { env },
      );
    }
    await run("cmake", ["--build", "build/wasm", "-j", JOBS], { env });
  }
}

/**
 * Runs one build tree's CTest suite.
 * @param {"native" | "wasm"} kind
 */
export async function ctest(kind) {
  banner(`ctest (build/${kind})`);
  await run("ctest", ["--test-dir", `build/${kind}`, "--output-on-failure", "-j", JOBS], {
    env: EMSCRIPTEN_ENV,
  });
}
