// A Vite app with the default configuration (no vite.config.js): `vite build`, `vite preview`.
import * as crdtdb from "crdtdb";
import { report } from "../common/exercise.js";

report(crdtdb, "vite").then((r) => (globalThis.__result = r));
