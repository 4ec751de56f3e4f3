// The WASM module's exports: plain C functions over a shared buffer (no Embind), the only code
// that sees Emscripten headers. js/engine.js is their only caller.
//
// Calling convention: the JS side writes a call's input into the handle's input buffer
// (crdtdb_input returns its address for a size), calls one export, then reads the result
// header — three u32 at crdtdb_result(handle): status, output address, output length. Status
// 0 is success and the output holds the call's record (bindings/convert.h); otherwise status
// is 1 + an ErrorCode (src/core/errors.h, mirrored in js/errors.js) and the output holds the
// UTF-8 message. Nothing throws across the boundary: every export catches everything,
// allocation failures included, and the engine has rolled the call back by then.
//
// Exports (handle = the Handle* from crdtdb_open):
//   crdtdb_open(peerPtr, peerLen, maxPendingBytes f64, seedLo, seedHi, historyMaxBytes f64)
//     → handle (0: see
//     crdtdb_open_error) · crdtdb_close(h) · crdtdb_input(h, size) → address (0: no memory)
//   crdtdb_result(h) → address of the header · crdtdb_heap_used() → f64 bytes
//   mutating, input = ops / message, flags bit 0 = encode the new events ("update"):
//     crdtdb_commit(h, len, flags) · crdtdb_apply(h, len, flags) ·
//     crdtdb_commit_staged(h, len, flags) · crdtdb_stage(h, len) ·
//     crdtdb_rollback_staged(h) · crdtdb_undo_last(h) · crdtdb_declare_indexes(h, len)
//   reads: crdtdb_version(h) · crdtdb_changes_since(h, len, hasVersion) · crdtdb_query(h, len)
//     · crdtdb_count(h, len) · crdtdb_staged_row(h, len) · crdtdb_conflicts(h, len) ·
//     crdtdb_text_state(h, len)
//   live queries: crdtdb_subscribe(h, len) (input = query; output = varint id) ·
//     crdtdb_unsubscribe(h, id)
//   storage, loading in steps: crdtdb_load_history(h, len) (input = the events records) ·
//     crdtdb_load_rows(h, len) (input = a batch of crdt_rows records; output = a change record
//     listing each of its visible rows as new) · crdtdb_load_finish(h) ·
//     crdtdb_track_storage(h, on) · crdtdb_take_storage(h) (output = the
//     storage record, db/database.h) · crdtdb_storage_durable(h) (the last take is durable) ·
//     crdtdb_index_entries(h, len) (input = index name) ·
//     crdtdb_history_bytes(h) → f64 encoded size of the history held (-1: out of memory) ·
//     crdtdb_compact(h, keepBytes f64) (output = varint events folded) ·
//     crdtdb_compact_acked(h, len) (input = a record list of versions; output = varint events
//     folded)
#include <emscripten/emscripten.h>
#include <malloc.h>

#include <new>

#include "convert.h"
#include "core/errors.h"

namespace {

using namespace crdtdb;

struct Handle {
  Handle(std::string peer, DatabaseOptions o) : db(std::move(peer), o) {}
  Database db;
  Bytes in;
  ByteWriter out;
  std::uint32_t header[3] = {0, 0, 0};
  std::uint32_t namesSent = 1;        // name id 0 is the engine's reserved token column
  std::uint32_t namesBeforeLast = 1;  // for undo_last
};

ByteWriter openError;

void setResult(Handle* h, std::uint32_t status) {
  h->header[0] = status;
  h->header[1] =
      static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(h->out.bytes().data()));
  h->header[2] = static_cast<std::uint32_t>(h->out.size());
}

void setError(Handle* h, ErrorCode code, const char* message) {
  try {
    h->out.bytes().clear();
    h->out.raw(ByteSpan(reinterpret_cast<const std::uint8_t*>(message), std::strlen(message)));
  } catch (...) {
    h->out.bytes().clear();  // no room even for the message: the status alone tells
  }
  setResult(h, 1 + static_cast<std::uint32_t>(code));
}

// One copy of the catch clauses for every export (a template would inline them into each).
__attribute__((noinline)) std::uint32_t runGuarded(Handle* h, void (*fn)(void*), void* ctx) {
  try {
    if (h->out.bytes().capacity() > (1u << 20)) {
      Bytes().swap(h->out.bytes());  // do not keep a large result's buffer for small ones
    }
    h->out.bytes().clear();
    fn(ctx);
    setResult(h, 0);
  } catch (const Error& e) {
    setError(h, e.code(), e.what());
  } catch (const std::bad_alloc&) {
    setError(h, ErrorCode::OutOfMemory,
             "out of memory: the WebAssembly heap could not grow; nothing was changed");
  } catch (const std::exception& e) {
    setError(h, ErrorCode::Internal, e.what());
  } catch (...) {
    setError(h, ErrorCode::Internal, "unknown engine failure");
  }
  return h->header[0];
}

template <typename F>
std::uint32_t guarded(Handle* h, F&& f) {
  return runGuarded(
      h, [](void* ctx) { (*static_cast<F*>(ctx))(); }, &f);
}

ByteSpan input(Handle* h, std::uint32_t len) { return ByteSpan(h->in.data(), len); }

// A mutating call's record; on a failure to encode it, the call itself is undone.
void record(Handle* h, const ChangeSet& cs) {
  h->namesBeforeLast = h->namesSent;
  try {
    boundary::writeChangeRecord(h->db, cs, h->namesSent, h->out);
  } catch (...) {
    h->db.undoLast();
    h->namesSent = h->namesBeforeLast;
    throw;
  }
}

}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE Handle* crdtdb_open(const char* peer, std::uint32_t len,
                                         double maxPendingBytes, double seedLo, double seedHi,
                                         double historyMaxBytes) {
  try {
    DatabaseOptions o;
    o.maxPendingBytes = boundary::toSize(maxPendingBytes);
    o.historyMaxBytes = boundary::toSize(historyMaxBytes);
    o.hashSeed = (static_cast<std::uint64_t>(seedHi) << 32) ^ static_cast<std::uint64_t>(seedLo);
    return new Handle(std::string(peer, len), o);
  } catch (const std::exception& e) {
    openError.bytes().clear();
    openError.raw(ByteSpan(reinterpret_cast<const std::uint8_t*>(e.what()), std::strlen(e.what())));
    return nullptr;
  } catch (...) {
    return nullptr;
  }
}

EMSCRIPTEN_KEEPALIVE const char* crdtdb_open_error() {
  openError.u8(0);
  return reinterpret_cast<const char*>(openError.bytes().data());
}

EMSCRIPTEN_KEEPALIVE void crdtdb_close(Handle* h) { delete h; }

EMSCRIPTEN_KEEPALIVE std::uint8_t* crdtdb_input(Handle* h, std::uint32_t size) {
  try {
    if (h->in.size() < size || h->in.size() > 4 * std::size_t{size} + (1u << 20)) {
      Bytes().swap(h->in);  // free the old buffer first: a large one must not be kept twice
      Bytes fresh(size);
      h->in.swap(fresh);
    }
    return h->in.data();
  } catch (...) {
    return nullptr;
  }
}

EMSCRIPTEN_KEEPALIVE std::uint32_t* crdtdb_result(Handle* h) { return h->header; }

EMSCRIPTEN_KEEPALIVE double crdtdb_heap_used() {
  struct mallinfo mi = mallinfo();
  return static_cast<double>(static_cast<unsigned>(mi.uordblks));
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_commit(Handle* h, std::uint32_t len,
                                                 std::uint32_t flags) {
  return guarded(h, [&] {
    boundary::OpBatch batch;
    boundary::decodeOps(input(h, len), batch, h->db);
    record(h, h->db.commit(batch.ops, flags & 1));
  });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_apply(Handle* h, std::uint32_t len, std::uint32_t flags) {
  return guarded(h, [&] { record(h, h->db.applyChanges(input(h, len), flags & 1)); });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_stage(Handle* h, std::uint32_t len) {
  return guarded(h, [&] {
    boundary::OpBatch batch;
    boundary::decodeOps(input(h, len), batch, h->db);
    h->db.stage(batch.ops);
  });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_commit_staged(Handle* h, std::uint32_t len,
                                                        std::uint32_t flags) {
  return guarded(h, [&] {
    boundary::OpBatch batch;
    boundary::decodeOps(input(h, len), batch, h->db);
    record(h, h->db.commitStaged(batch.ops, flags & 1));
  });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_rollback_staged(Handle* h) {
  return guarded(h, [&] { h->db.rollbackStaged(); });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_undo_last(Handle* h) {
  return guarded(h, [&] {
    // Names go back only with the call that sent them (a second undo must not resend them).
    if (h->db.undoLast()) h->namesSent = h->namesBeforeLast;
  });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_declare_indexes(Handle* h, std::uint32_t len) {
  return guarded(h, [&] { h->db.declareIndexes(boundary::decodeIndexDefs(input(h, len))); });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_version(Handle* h) {
  return guarded(h, [&] { h->out.raw(h->db.version()); });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_changes_since(Handle* h, std::uint32_t len,
                                                        std::uint32_t hasVersion) {
  return guarded(h, [&] {
    ByteSpan v = input(h, len);
    h->db.changesSince(hasVersion ? &v : nullptr, h->out);
  });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_query(Handle* h, std::uint32_t len) {
  return guarded(
      h, [&] { boundary::writeQuery(h->db, boundary::decodeQuery(input(h, len)), h->out); });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_count(Handle* h, std::uint32_t len) {
  return guarded(
      h, [&] { boundary::writeCount(h->db, boundary::decodeQuery(input(h, len)), h->out); });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_staged_row(Handle* h, std::uint32_t len) {
  return guarded(h, [&] { boundary::writeStagedRow(h->db, input(h, len), h->out); });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_conflicts(Handle* h, std::uint32_t len) {
  return guarded(h, [&] { boundary::writeConflicts(h->db, input(h, len), h->out); });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_text_state(Handle* h, std::uint32_t len) {
  return guarded(h, [&] { boundary::writeTextState(h->db, input(h, len), h->out); });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_subscribe(Handle* h, std::uint32_t len) {
  return guarded(h, [&] {
    boundary::QuerySpec q = boundary::decodeQuery(input(h, len));
    h->out.varint(h->db.subscribe(q.table, q.index, q.range));
  });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_unsubscribe(Handle* h, std::uint32_t id) {
  return guarded(h, [&] { h->db.unsubscribe(id); });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_load_history(Handle* h, std::uint32_t len) {
  return guarded(h, [&] { h->db.loadHistory(boundary::decodeRecordList(input(h, len))); });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_load_rows(Handle* h, std::uint32_t len) {
  return guarded(h, [&] {
    std::vector<RowId> loaded;
    h->db.loadRows(boundary::decodeRecordList(input(h, len)), &loaded);
    boundary::writeLoadRecord(h->db, loaded, h->namesSent, h->out);
  });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_load_finish(Handle* h) {
  return guarded(h, [&] { h->db.finishLoad(); });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_track_storage(Handle* h, std::uint32_t on) {
  return guarded(h, [&] { h->db.trackStorage(on != 0); });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_take_storage(Handle* h) {
  return guarded(h, [&] { h->db.takeStorage(h->out); });
}

EMSCRIPTEN_KEEPALIVE void crdtdb_storage_durable(Handle* h) { h->db.storageDurable(); }

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_compact(Handle* h, double keepBytes) {
  return guarded(h, [&] { h->out.varint(h->db.compact(boundary::toSize(keepBytes))); });
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_compact_acked(Handle* h, std::uint32_t len) {
  return guarded(h, [&] {
    const auto versions = boundary::decodeRecordList(input(h, len));
    h->out.varint(h->db.compactAcked(versions));
  });
}

EMSCRIPTEN_KEEPALIVE double crdtdb_history_bytes(Handle* h) {
  try {
    return static_cast<double>(h->db.opLog().encodedBytes());
  } catch (...) {
    return -1;
  }
}

EMSCRIPTEN_KEEPALIVE std::uint32_t crdtdb_index_entries(Handle* h, std::uint32_t len) {
  return guarded(h, [&] {
    const ByteSpan in = input(h, len);
    h->db.writeIndexEntries(std::string(in.begin(), in.end()), h->out);
  });
}

}  // extern "C"
