// The Vite dev server, configured as docs/bundlers.md says: pre-bundling would move crdtdb's
// module away from its wasm file.
export default { optimizeDeps: { exclude: ["crdtdb"] } };
