#include "convert.h"

#include <algorithm>
#include <cstring>

#include "core/errors.h"
#include "core/sort.h"
#include "store/key_codec.h"

namespace crdtdb::boundary {

namespace {

[[noreturn]] void malformed(const std::string& what) {
  throw Error(ErrorCode::Type, "malformed " + what + " from the JavaScript side");
}

std::string_view str(ByteReader& r, std::size_t maxLen, const char* what) {
  try {
    return r.stringView(maxLen, what);
  } catch (const DecodeError& e) {
    throw Error(ErrorCode::Type, e.what());
  }
}

double f64(ByteReader& r) {
  std::uint64_t bits = r.fixed64();
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

// One value as a canonical key encoding; Error(Type) naming `what` when it is not a key.
std::string keyOf(ByteReader& r, const char* what) {
  ByteSpan rest = r.rest();
  ValueScan scan;
  try {
    scan = scanValueLoose(r);
  } catch (const DecodeError& e) {
    throw Error(ErrorCode::Type, std::string(what) + ": " + e.what());
  }
  std::string out;
  if (scan.hasObject || !appendKey(out, rest.first(scan.size))) {
    throw Error(ErrorCode::Type, std::string(what) +
                                     " is not a valid key (a number, string or "
                                     "array of those)");
  }
  return out;
}

void writeRowColumns(const Database& db, RowId id, ByteWriter& out) {
  std::size_t n = 0;
  db.forEachColumn(id, [&](NameId, ValueRef) { ++n; });
  out.varint(n);
  db.forEachColumn(id, [&](NameId col, ValueRef v) {
    out.varint(col);
    out.raw(v);
  });
}

void writeStaged(const std::optional<StagedRow>& row, ByteWriter& out) {
  out.varint(row ? row->columns.size() : 0);
  if (!row) return;
  for (const auto& [name, value] : row->columns) {
    out.string(name);
    out.raw(value);
  }
}

}  // namespace

std::size_t toSize(double d) {
  if (!(d >= 0)) return 0;
  if (d >= static_cast<double>(SIZE_MAX)) return SIZE_MAX;  // beyond any index: no limit
  return static_cast<std::size_t>(d);
}

namespace {

// A name sent as an id the JS side learned, or as a string.
std::string_view nameRef(ByteReader& r, const Database& db, NameId& id, const char* what) {
  const std::uint64_t ref = r.varint();
  if (ref == 0) {
    id = 0;
    return str(r, kMaxNameBytes, what);
  }
  if (ref >= db.nameCount()) malformed(std::string(what) + " id");
  id = static_cast<NameId>(ref);
  return db.name(id);
}

}  // namespace

void decodeOps(ByteSpan in, OpBatch& out, const Database& db) {
  ByteReader r(in);
  try {
    const std::uint64_t n = r.varintBelow(r.remaining() / 3 + 1, "operation count");
    struct Pending {
      std::size_t op, colBegin, colEnd;
    };
    // Values that contain objects are re-encoded into out.canonical; remember their offsets
    // and point the views at them once the buffer stops growing.
    struct Moved {
      std::size_t column, begin, end;
    };
    std::vector<Moved> moved;
    out.ops.reserve(static_cast<std::size_t>(n));
    std::vector<Pending> spans;
    spans.reserve(static_cast<std::size_t>(n));
    ByteWriter canon;
    for (std::uint64_t i = 0; i < n; ++i) {
      OpRef op;
      const std::uint8_t kind = r.u8();
      // 7 (counter reset) is engine-made; 8, 9 (text create, local edit) commit at once.
      if (kind < 1 || kind > 9 || kind == 7) malformed("operation kind");
      op.kind = static_cast<OpKind>(kind);
      op.table = nameRef(r, db, op.tableId, "table name");
      op.key = str(r, kMaxKeyBytes, "row key");
      const std::size_t colBegin = out.columns.size();
      if (op.kind != OpKind::DeleteRow) {
        const std::uint64_t nCols = r.varintBelow(r.remaining() / 2 + 1, "column count");
        int depth = 0;  // of the last value (a set op's element)
        for (std::uint64_t c = 0; c < nCols; ++c) {
          ColumnRef col;
          col.name = nameRef(r, db, col.id, "column name");
          ByteSpan rest = r.rest();
          ValueScan scan = scanValueLoose(r);
          depth = scan.depth;
          col.value = rest.first(scan.size);
          if (scan.hasObject) {
            const std::size_t begin = canon.size();
            canonicalizeValue(col.value, canon);
            moved.push_back({out.columns.size(), begin, canon.size()});
          }
          out.columns.push_back(col);
        }
        if (isOneColumnOp(op.kind) && nCols != 1) {
          const char* what = isSetOp(op.kind)               ? "set operation"
                             : op.kind == OpKind::Increment ? "increment"
                                                            : "text operation";
          malformed(std::string(what) + " (it names one column)");
        }
        if (isSetOp(op.kind) && depth > kMaxSetElementDepth) {
          malformed("set element (nested deeper than " + std::to_string(kMaxSetElementDepth) +
                    " levels)");
        }
      }
      spans.push_back({out.ops.size(), colBegin, out.columns.size()});
      out.ops.push_back(op);
    }
    if (!r.atEnd()) malformed("operations (trailing bytes)");
    out.canonical = canon.take();
    for (const Moved& m : moved) {
      out.columns[m.column].value = ByteSpan(out.canonical).subspan(m.begin, m.end - m.begin);
    }
    for (const Pending& p : spans) {
      auto first = out.columns.begin() + static_cast<std::ptrdiff_t>(p.colBegin);
      auto last = out.columns.begin() + static_cast<std::ptrdiff_t>(p.colEnd);
      sortRange(first, last,
                [](const ColumnRef& a, const ColumnRef& b) { return a.name < b.name; });
      if (std::adjacent_find(first, last, [](const ColumnRef& a, const ColumnRef& b) {
            return a.name == b.name;
          }) != last) {
        malformed("row (a column named twice)");
      }
      out.ops[p.op].columns =
          std::span<const ColumnRef>(out.columns.data() + p.colBegin, p.colEnd - p.colBegin);
    }
  } catch (const DecodeError& e) {
    throw Error(ErrorCode::Type, std::string("malformed operations: ") + e.what());
  }
}

KeyRange decodeRange(ByteReader& r) {
  KeyRange k;
  const std::uint8_t type = r.u8();
  switch (type) {
    case 0:
      k.kind = KeyRange::Kind::All;
      break;
    case 1:
      k.kind = KeyRange::Kind::Bounds;
      k.lower = k.upper = keyOf(r, "equals() value");
      break;
    case 2:
    case 3:
      k.kind = KeyRange::Kind::Bounds;
      k.lower = keyOf(r, "range bound");
      k.lowerOpen = type == 2;
      break;
    case 4:
    case 5:
      k.kind = KeyRange::Kind::Bounds;
      k.upper = keyOf(r, "range bound");
      k.upperOpen = type == 4;
      break;
    case 6: {
      const std::uint8_t flags = r.u8();
      k.kind = KeyRange::Kind::Bounds;
      k.lowerOpen = !(flags & 1);
      k.upperOpen = !(flags & 2);
      k.lower = keyOf(r, "between() lower bound");
      k.upper = keyOf(r, "between() upper bound");
      break;
    }
    case 7: {
      k.kind = KeyRange::Kind::Prefix;
      ByteSpan rest = r.rest();
      ValueScan scan = scanValueLoose(r);
      ValueRef v = rest.first(scan.size);
      if (typeOf(v) == ValueType::String) {
        k.prefix = stringPrefixKey(stringOf(v));
      } else if (auto p = scan.hasObject ? std::nullopt : arrayPrefixKey(v)) {
        k.prefix = *p;
      } else {
        throw Error(ErrorCode::Type, "startsWith() takes a string or an array prefix of keys");
      }
      break;
    }
    case 8: {
      k.kind = KeyRange::Kind::AnyOf;
      const std::uint64_t n = r.varintBelow(r.remaining() + 1, "anyOf count");
      for (std::uint64_t i = 0; i < n; ++i) k.values.push_back(keyOf(r, "anyOf() value"));
      break;
    }
    default:
      malformed("key range");
  }
  return k;
}

QuerySpec decodeQuery(ByteSpan in) {
  ByteReader r(in);
  QuerySpec q;
  try {
    q.table = str(r, kMaxNameBytes, "table name");
    q.index = str(r, kMaxNameBytes, "index name");
    q.range = decodeRange(r);
    const double limit = f64(r);
    q.opts.limit = limit < 0 ? SIZE_MAX : toSize(limit);
    q.opts.offset = toSize(f64(r));
    const std::uint8_t flags = r.u8();
    q.opts.reverse = flags & 1;
    q.staged = flags & 2;
    q.wantCursor = flags & 4;
    const std::uint64_t cursorLen = r.varintBelow(r.remaining() + 1, "cursor length");
    if (cursorLen > 0) {
      ByteSpan c = r.raw(static_cast<std::size_t>(cursorLen));
      q.opts.after = std::string(reinterpret_cast<const char*>(c.data()), c.size());
    }
    if (!r.atEnd()) malformed("query (trailing bytes)");
  } catch (const DecodeError& e) {
    throw Error(ErrorCode::Type, std::string("malformed query: ") + e.what());
  }
  return q;
}

std::vector<IndexDef> decodeIndexDefs(ByteSpan in) {
  ByteReader r(in);
  std::vector<IndexDef> defs;
  try {
    const std::uint64_t n = r.varintBelow(r.remaining() + 1, "index count");
    for (std::uint64_t i = 0; i < n; ++i) {
      IndexDef d;
      d.name = std::string(str(r, kMaxNameBytes, "index name"));
      d.table = std::string(str(r, kMaxNameBytes, "table name"));
      const std::uint64_t nKeys = r.varintBelow(r.remaining() + 1, "key count");
      for (std::uint64_t k = 0; k < nKeys; ++k) {
        d.keys.emplace_back(str(r, kMaxNameBytes, "column name"));
      }
      defs.push_back(std::move(d));
    }
    if (!r.atEnd()) malformed("index definitions (trailing bytes)");
  } catch (const DecodeError& e) {
    throw Error(ErrorCode::Type, std::string("malformed index definitions: ") + e.what());
  }
  return defs;
}

namespace {

void readRecordList(ByteReader& r, std::vector<ByteSpan>& list) {
  const std::uint64_t n = r.varintBelow(r.remaining() + 1, "record count");
  list.reserve(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n; ++i) {
    list.push_back(
        r.raw(static_cast<std::size_t>(r.varintBelow(r.remaining() + 1, "record length"))));
  }
}

}  // namespace

std::vector<ByteSpan> decodeRecordList(ByteSpan in) {
  ByteReader r(in);
  std::vector<ByteSpan> list;
  try {
    readRecordList(r, list);
    if (!r.atEnd()) malformed("record list (trailing bytes)");
  } catch (const DecodeError& e) {
    throw Error(ErrorCode::Type, std::string("malformed stored records: ") + e.what());
  }
  return list;
}

StoredState decodeStoredState(ByteSpan in) {
  ByteReader r(in);
  StoredState st;
  try {
    readRecordList(r, st.events);
    readRecordList(r, st.rows);
    if (!r.atEnd()) malformed("stored state (trailing bytes)");
  } catch (const DecodeError& e) {
    throw Error(ErrorCode::Type, std::string("malformed stored state: ") + e.what());
  }
  return st;
}

void writeLoadRecord(const Database& db, std::span<const RowId> loaded, std::uint32_t& namesSent,
                     ByteWriter& out) {
  ChangeSet cs;
  const RowStore& rows = db.rows();
  for (RowId id : loaded) {
    if (rows.row(id).visible()) cs.rows.push_back({id, RowDelta::New, {}, {}});
  }
  writeChangeRecord(db, cs, namesSent, out);
}

void writeChangeRecord(const Database& db, const ChangeSet& cs, std::uint32_t& namesSent,
                       ByteWriter& out) {
  const std::uint32_t total = db.nameCount();
  out.varint(total - namesSent);
  for (std::uint32_t i = namesSent; i < total; ++i) out.string(db.name(i));
  out.varint(cs.applied);
  out.varint(cs.pending);
  out.varint(cs.rows.size());
  for (const RowDelta& d : cs.rows) {
    out.varint(d.row);
    out.u8(d.kind);
    const Row& r = db.rows().row(d.row);
    switch (d.kind) {
      case RowDelta::New:
        out.varint(r.table);
        out.string(r.key);
        writeRowColumns(db, d.row, out);
        break;
      case RowDelta::Full:
        writeRowColumns(db, d.row, out);
        break;
      case RowDelta::Patch: {
        out.varint(d.columns.size());
        auto splice = d.splices.begin();
        for (NameId col : d.columns) {
          out.varint(col);
          const ValueRef v = db.rows().cell(r, db.name(col))->value();
          if (splice != d.splices.end() && splice->column == col) {
            const std::string_view s = stringOf(v);
            out.u8(kSpliceTag);
            out.varint(splice->splice.pos);
            out.varint(splice->splice.removed);
            out.string(s.substr(splice->splice.from, splice->splice.to - splice->splice.from));
            ++splice;
          } else {
            out.raw(v);
          }
        }
        break;
      }
      case RowDelta::Gone:
        break;
    }
  }
  out.varint(cs.subscriptions.size());
  for (std::uint32_t id : cs.subscriptions) {
    const Subscriptions::Spec* spec = db.subscriptions().spec(id);
    out.varint(id);
    if (!spec) {
      out.varint(0);
      continue;
    }
    std::vector<QueryHit> hits = db.query(spec->table, spec->index, spec->range, QueryOptions{});
    out.varint(hits.size());
    for (const QueryHit& h : hits) out.varint(h.row);
  }
  out.varint(cs.update.size());
  out.raw(cs.update);
  namesSent = total;
}

void writeQuery(const Database& db, const QuerySpec& q, ByteWriter& out) {
  if (!q.staged) {
    std::vector<QueryHit> hits = db.query(q.table, q.index, q.range, q.opts);
    out.varint(hits.size());
    for (const QueryHit& h : hits) out.varint(h.row);
    if (!q.wantCursor) return;
    if (hits.empty()) {
      out.varint(q.opts.after ? q.opts.after->size() : 0);
      if (q.opts.after)
        out.raw(ByteSpan(reinterpret_cast<const std::uint8_t*>(q.opts.after->data()),
                         q.opts.after->size()));
    } else {
      out.string(hits.back().entry);
    }
    return;
  }
  std::vector<StagedHit> hits = db.queryStaged(q.table, q.index, q.range, q.opts);
  out.varint(hits.size());
  const std::string& table = db.indexes().tableOf(q.table, q.index);
  for (const StagedHit& h : hits) {
    if (h.row != kNoRow && !h.staged) {
      out.u8(0);
      out.varint(h.row);
    } else {
      out.u8(1);
      out.string(h.key);
      writeStaged(db.stagedRow(table, h.key), out);
    }
  }
}

void writeCount(const Database& db, const QuerySpec& q, ByteWriter& out) {
  out.varint(db.count(q.table, q.index, q.range, q.staged));
}

void writeStagedRow(const Database& db, ByteSpan in, ByteWriter& out) {
  ByteReader r(in);
  std::string_view table = str(r, kMaxNameBytes, "table name");
  std::string_view key = str(r, kMaxKeyBytes, "row key");
  std::optional<StagedRow> row = db.stagedRow(table, key);
  out.u8(row ? 1 : 0);
  writeStaged(row, out);
}

void writeConflicts(const Database& db, ByteSpan in, ByteWriter& out) {
  ByteReader r(in);
  std::string_view table = str(r, kMaxNameBytes, "table name");
  std::string_view key = str(r, kMaxKeyBytes, "row key");
  std::optional<RowId> id = db.findRow(table, key);
  if (!id || !db.rows().row(*id).visible()) {
    out.varint(0);
    return;
  }
  std::vector<std::pair<NameId, std::vector<ValueRef>>> cols;
  db.forEachLoser(*id, [&](NameId col, ValueRef v) {
    if (cols.empty() || cols.back().first != col) cols.emplace_back(col, std::vector<ValueRef>{});
    cols.back().second.push_back(v);
  });
  out.varint(cols.size());
  for (const auto& [col, values] : cols) {
    out.string(db.name(col));
    out.varint(values.size());
    for (ValueRef v : values) out.raw(v);
  }
}

void writeTextState(const Database& db, ByteSpan in, ByteWriter& out) {
  ByteReader r(in);
  std::string_view table = str(r, kMaxNameBytes, "table name");
  std::string_view key = str(r, kMaxKeyBytes, "row key");
  std::string_view column = str(r, kMaxNameBytes, "column name");
  const std::optional<RowId> id = db.findRow(table, key);
  const std::optional<NameId> col = db.nameIdOf(column);
  const bool text =
      id && col && db.rows().row(*id).visible() && db.rows().shownText(*id, *col) != nullptr;
  out.u8(text ? 1 : 0);
}

}  // namespace crdtdb::boundary
