// Error classes, and the values js/ mirrors from the C++ engine: the ErrorCode names
// (src/core/errors.h ↔ js/errors.js) and the validation limits (headers ↔ js/validate.js).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  ClosedError,
  CRDTDBError,
  DecodeError,
  NotFoundError,
  QuotaError,
  UnknownIndexError,
} from "crdtdb";
import { ENGINE_ERROR_CODES, errorFromEngine, errorFromStatus } from "../../js/errors.js";
import {
  MAX_KEY_BYTES,
  MAX_NAME_BYTES,
  MAX_PEER_ID_BYTES,
  MAX_VALUE_DEPTH,
} from "../../js/validate.js";

const source = (path) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

/**
 * Reads `inline constexpr <type> NAME = <expr>;` from a header (expr: integer or a << b).
 * @param {string} path
 * @param {string} name
 */
function cppConstant(path, name) {
  const m = source(path).match(new RegExp(`constexpr\\s+[\\w:]+\\s+${name}\\s*=\\s*([^;]+);`));
  assert.ok(m, `${name} not found in ${path}`);
  const expr = m[1].trim();
  const shift = expr.match(/^(\d+)u?\s*<<\s*(\d+)$/);
  if (shift) return Number(shift[1]) * 2 ** Number(shift[2]);
  assert.match(expr, /^\d+u?$/, `${name} = ${expr} is not a plain integer`);
  return Number.parseInt(expr, 10);
}

test("every error class has its name and derives from CRDTDBError", () => {
  for (const [Cls, name] of [
    [CRDTDBError, "CRDTDBError"],
    [UnknownIndexError, "UnknownIndexError"],
    [NotFoundError, "NotFoundError"],
    [DecodeError, "DecodeError"],
    [ClosedError, "ClosedError"],
    [QuotaError, "QuotaError"],
  ]) {
    const err = new Cls("message text", { cause: 42 });
    assert.ok(err instanceof Error);
    assert.ok(err instanceof CRDTDBError);
    assert.equal(err.name, name);
    assert.equal(err.message, "message text");
    assert.equal(err.cause, 42);
    assert.equal(String(err), `${name}: message text`);
    assert.match(err.stack, new RegExp(`^${name}: message text`));
  }
});

test("ENGINE_ERROR_CODES lists the ErrorCode names of src/core/errors.h in enum order", () => {
  const header = source("src/core/errors.h");
  const body = header.match(/enum class ErrorCode\s*{([^}]*)}/);
  assert.ok(body, "enum class ErrorCode not found");
  const names = [...body[1].matchAll(/^\s*([A-Za-z]\w*)\s*[,=]?/gm)].map((m) => m[1]);
  assert.ok(names.length >= 5, `parsed ${names}`);
  // Order matters: a failed call's status is 1 + the code's position.
  assert.deepEqual(Object.keys(ENGINE_ERROR_CODES), names);
});

test("a failed call's status maps to its code's class, unknown statuses to CRDTDBError", () => {
  const names = Object.keys(ENGINE_ERROR_CODES);
  assert.ok(errorFromStatus(1 + names.indexOf("Decode"), "bad") instanceof DecodeError);
  assert.ok(errorFromStatus(1 + names.indexOf("Type"), "bad") instanceof TypeError);
  const oom = errorFromStatus(1 + names.indexOf("OutOfMemory"), "out of memory");
  assert.equal(oom.constructor, CRDTDBError);
  const unknown = errorFromStatus(99, "");
  assert.equal(unknown.constructor, CRDTDBError);
  assert.match(unknown.message, /#99/);
});

test("engine error records map to the documented classes", () => {
  const cases = [
    ["Type", TypeError],
    ["NotFound", NotFoundError],
    ["Decode", DecodeError],
    ["PendingOverflow", QuotaError],
    ["UnknownIndex", UnknownIndexError],
  ];
  for (const [code, Cls] of cases) {
    const err = errorFromEngine({ code, message: "m" });
    assert.equal(err.constructor, Cls, code);
    assert.equal(err.message, "m");
  }
  const internal = errorFromEngine({ code: "Internal", message: "broken invariant" });
  assert.equal(internal.constructor, CRDTDBError);
  assert.match(internal.message, /internal engine error: broken invariant/);
  const unknown = errorFromEngine({ code: "Martian", message: "?" });
  assert.equal(unknown.constructor, CRDTDBError);
  assert.match(unknown.message, /Martian/);
});

test("validation limits in js/validate.js equal the engine's", () => {
  assert.equal(MAX_VALUE_DEPTH, cppConstant("src/core/value.h", "kMaxValueDepth"));
  assert.equal(MAX_NAME_BYTES, cppConstant("src/oplog/op.h", "kMaxNameBytes"));
  assert.equal(MAX_KEY_BYTES, cppConstant("src/oplog/op.h", "kMaxKeyBytes"));
  assert.equal(MAX_PEER_ID_BYTES, cppConstant("src/oplog/op.h", "kMaxPeerIdBytes"));
});
