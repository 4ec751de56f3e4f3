// A module worker: workers do not see the page's import map, so the package is imported by path.
import * as crdtdb from "/node_modules/crdtdb/js/index.js";
import { report } from "/common/exercise.js";

self.postMessage(await report(crdtdb, "worker"));
