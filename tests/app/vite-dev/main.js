// The same app as ../vite/main.js, served by the dev server.
import * as crdtdb from "crdtdb";
import { report } from "../common/exercise.js";

report(crdtdb, "vite-dev").then((r) => (globalThis.__result = r));
