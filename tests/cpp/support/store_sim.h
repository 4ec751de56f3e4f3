// Test support: storage as the JS adapters hold it (the five stores as ordered maps), fed by
// Database::takeStorage records, and reopening a replica from it with Database::load.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "db/database.h"

namespace crdtdb::testing {

struct StoreSim {
  std::map<std::pair<std::string, std::string>, Bytes> crdtRows;
  std::map<std::pair<std::string, std::string>, Bytes> materialized;
  std::set<Bytes> indexes;                    // entries: encoded [table, index, ...vals, key]
  std::map<std::pair<LV, LV>, Bytes> events;  // (chunk, start) → record
  std::size_t writes = 0;                     // records taken in
  std::size_t bytesWritten = 0;
  std::size_t deleteRequests = 0;  // events delete ranges taken in

  // Takes in one storage record (the format of Database::takeStorage).
  void take(Database& db) {
    ByteWriter w;
    db.takeStorage(w);
    ++writes;
    ByteReader r(w.bytes());
    auto bytes = [&] {
      const auto n = static_cast<std::size_t>(r.varint());
      ByteSpan b = r.raw(n);
      bytesWritten += n;
      return Bytes(b.begin(), b.end());
    };
    const std::uint64_t nRows = r.varint();
    for (std::uint64_t i = 0; i < nRows; ++i) {
      std::string table = r.string(1 << 20, "table");
      std::string key = r.string(1 << 20, "key");
      auto k = std::make_pair(table, key);
      const std::uint8_t kind = r.u8();
      if (kind == 0) {
        crdtRows.erase(k);
        materialized.erase(k);
        continue;
      }
      crdtRows[k] = bytes();
      if (kind == 2) {
        materialized[k] = bytes();
      } else {
        materialized.erase(k);
      }
    }
    for (int list = 0; list < 2; ++list) {
      const std::uint64_t n = r.varint();
      for (std::uint64_t i = 0; i < n; ++i) {
        Bytes e = bytes();
        if (list == 0) {
          indexes.erase(e);
        } else {
          indexes.insert(std::move(e));
        }
      }
    }
    const std::uint64_t nDel = r.varint();
    for (std::uint64_t i = 0; i < nDel; ++i) {
      const auto chunk = static_cast<LV>(r.varint());
      const auto from = static_cast<LV>(r.varint());
      const auto to = static_cast<LV>(r.varint());
      if (to < from) throw std::runtime_error("storage record deletes an empty range");
      events.erase(events.lower_bound({chunk, from}), events.upper_bound({chunk, to}));
      ++deleteRequests;
    }
    const std::uint64_t nPut = r.varint();
    for (std::uint64_t i = 0; i < nPut; ++i) {
      const auto chunk = static_cast<LV>(r.varint());
      const auto start = static_cast<LV>(r.varint());
      events[{chunk, start}] = bytes();
    }
    if (!r.atEnd()) throw std::runtime_error("storage record has trailing bytes");
    db.storageDurable();  // the simulated write always lands
  }

  // A replica opened from what is stored (as the JS side does: load, then declare indexes).
  // `batch` > 0: rows taken in batches of that many (loadHistory, loadRows…, finishLoad).
  std::unique_ptr<Database> open(const std::string& peer, const std::vector<IndexDef>& defs,
                                 bool track = true, std::size_t batch = 0) const {
    auto db = std::make_unique<Database>(peer);
    std::vector<ByteSpan> ev, rows;
    for (const auto& [k, v] : events) ev.emplace_back(v);
    for (const auto& [k, v] : crdtRows) rows.emplace_back(v);
    if (batch == 0) {
      db->load(ev, rows);
    } else {
      db->loadHistory(ev);
      db->declareIndexes(defs);  // before the rows, as the JS side does: built batch by batch
      std::vector<RowId> loaded;
      for (std::size_t i = 0; i < rows.size(); i += batch) {
        db->loadRows(std::span(rows).subspan(i, std::min(batch, rows.size() - i)), &loaded);
      }
      db->finishLoad();
      if (loaded.size() != rows.size()) throw std::runtime_error("loadRows lost a row id");
    }
    db->declareIndexes(defs);
    db->trackStorage(track);
    return db;
  }
};

// The index entries a replica's storage should hold: every declared index's, recomputed.
inline std::set<Bytes> expectedIndexEntries(const Database& db) {
  std::set<Bytes> out;
  db.indexes().forEachDef([&](const IndexDef& def) {
    ByteWriter w;
    db.writeIndexEntries(def.name, w);
    ByteReader r(w.bytes());
    const std::uint64_t n = r.varint();
    for (std::uint64_t i = 0; i < n; ++i) {
      ByteSpan b = r.raw(static_cast<std::size_t>(r.varint()));
      out.emplace(b.begin(), b.end());
    }
  });
  return out;
}

}  // namespace crdtdb::testing
