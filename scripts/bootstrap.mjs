// Installs whatever is missing on this machine: the Debian packages (skipped when emcc,
// nlohmann, catch2, chromium, ninja and cmake are present) and node_modules (npm ci when
// missing or older than package-lock.json).
//
//   node scripts/bootstrap.mjs

import { bootstrap } from "./lib.mjs";

try {
  await bootstrap();
} catch (err) {
  console.error(`bootstrap failed: ${err.message}`);
  process.exit(1);
}
