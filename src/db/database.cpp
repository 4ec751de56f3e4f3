#include "db/database.h"

#include <algorithm>
#include <deque>
#include <set>
#include <unordered_map>

#include "core/errors.h"
#include "core/sort.h"
#include "core/splice.h"
#include "db/row_lookup.h"
#include "merge/text_op.h"
#include "oplog/frame.h"
#include "oplog/version_codec.h"

namespace crdtdb {

namespace {
constexpr std::uint8_t kInvalidNameByte[] = {0xff};  // never valid UTF-8: reserves NameId 0
}  // namespace

// A run of transactions to examine: from the incoming message or from the held set.
struct RunSource {
  ByteSpan bytes;
  const ChunkTables* tables;
  const TxnRunView* run;
  std::vector<PeerIdx>* peers;  // chunk peer index → replica PeerIdx, interned on first use
  const ParentRef* parents;     // the decoded parents array
  bool held;
  CausalBuffer::Id heldId;
  std::uint64_t chunkSerial;  // identifies the chunk (for ChunkCache)
};

namespace {

constexpr PeerIdx kUnsetPeer = 0xffffffffu;

// A chunk's peers are interned as runs use them: a peer a message only lists costs nothing.
PeerIdx peerOf(const RunSource& src, std::uint32_t local, Interner& peers) {
  PeerIdx& p = (*src.peers)[local];
  if (p == kUnsetPeer) p = peers.intern(src.tables->peers[local]);
  return p;
}

}  // namespace

// What a message chunk's table indexes resolve to here, filled as ops use them: names and
// keys are hashed once per chunk, not once per op.
struct ChunkCache {
  static constexpr std::uint32_t kUnset = 0xffffffffu;
  std::uint64_t serial = 0;  // of the chunk the cache is for (0: none)
  std::vector<NameId> names;
  std::vector<std::uint32_t> logNames, logKeys, updNames, updKeys;
  std::vector<std::pair<NameId, RowId>> rows;  // key index → (table, row) last resolved

  void reset(const ChunkTables& t, std::uint64_t chunkSerial) {
    serial = chunkSerial;
    names.assign(t.names.size(), kUnset);
    logNames.assign(t.names.size(), kUnset);
    updNames.assign(t.names.size(), kUnset);
    logKeys.assign(t.keys.size(), kUnset);
    updKeys.assign(t.keys.size(), kUnset);
    rows.assign(t.keys.size(), {kUnset, 0});
  }
  static std::uint32_t writerIndex(std::vector<std::uint32_t>& cache, std::uint32_t i,
                                   std::string_view s, ChunkWriter& w, bool key) {
    if (cache[i] == kUnset) cache[i] = key ? w.key(s) : w.name(s);
    return cache[i];
  }
};

namespace {

// A run of typed characters being gathered by processRun: consecutive events of one peer,
// each inserting one UTF-16 unit into the same text right after the previous one.
struct TypedRun {
  RowId row = 0;
  NameId column = 0;
  std::string_view name;
  TextEditValue edit;   // the first one's (its content is `content` when applied)
  std::string content;  // the characters, UTF-8
  LV first = 0;
  std::uint32_t events = 0;

  // One character of one UTF-16 unit (1 to 3 UTF-8 bytes).
  static bool typable(const TextEditValue& e) {
    return e.insert && !e.content.empty() && e.content.size() <= 3 &&
           utf8SequenceLength(static_cast<std::uint8_t>(e.content[0])) == e.content.size();
  }
  void begin(RowId r, NameId col, std::string_view colName, const TextEditValue& e, LV lv) {
    row = r;
    column = col;
    name = colName;
    edit = e;
    content.assign(e.content);
    first = lv;
    events = 1;
  }
  // Takes `e` (event `lv`) if it types the next character of this run.
  bool extend(RowId r, NameId col, const TextEditValue& e, LV lv) {
    if (events == 0 || r != row || col != column || lv != first + events || !typable(e) ||
        e.seq != edit.seq || e.pos != std::uint64_t{edit.pos} + events || e.peer != edit.peer) {
      return false;
    }
    content.append(e.content);
    ++events;
    return true;
  }
};

}  // namespace

struct Database::ApplyState {
  TypedRun typed;
  ChunkWriter* update = nullptr;
  std::vector<PeerIdx> progress;  // peers whose next seq advanced
  std::size_t applied = 0;
  std::vector<ColumnWrite> writes;
  std::vector<ColumnRef> cols;
  TxnCursor::OpIndexes idx;
  // Separate caches, so releasing a held run between two runs of a message chunk does not
  // make the message chunk's tables resolve again (r runs over k names would cost r·k).
  ChunkCache cache, heldCache;
  std::uint64_t nextSerial = 0;
  const CausalBuffer::Mark* bufferMark = nullptr;  // the held set when the call began
  std::vector<CausalBuffer::Id> resent;            // held runs this message carries again
};

Database::Database(std::string peerId, DatabaseOptions options)
    : peerId_(std::move(peerId)),
      hashSeed_(options.hashSeed),
      historyMaxBytes_(options.historyMaxBytes),
      names_(options.hashSeed ^ 0x6e616d6573ull),
      peers_(options.hashSeed ^ 0x7065657273ull),
      oplog_(options.hashSeed ^ 0x6f706c6f67ull),
      rows_(names_, peers_, graph_, options.hashSeed),
      buffer_(options.maxPendingBytes, options.hashSeed ^ 0x68656c64ull),
      update_(options.hashSeed) {
  validatePeerId(peerId_);
  names_.intern(std::string_view(reinterpret_cast<const char*>(kInvalidNameByte), 1));
  self_ = peers_.intern(peerId_);
}

// ---- calls: mark, rollback, confirm ----

Database::CallMark Database::beginCall() {
  confirm();
  return CallMark{graph_.mark(),  oplog_.mark(), rows_.begin(), indexes_.begin(),
                  buffer_.mark(), names_.size(), peers_.size(), dirty_.size()};
}

void Database::rollbackTo(const CallMark& m) noexcept {
  // Rows first: undoing a loser needs the graph as it was during the call.
  rows_.rollback(m.rows);
  staging_.forgetFolds();  // rows go back without a new touch: stamps would not tell
  indexes_.rollback(m.indexes);
  buffer_.rollback(m.buffer);
  oplog_.rollback(m.oplog);
  graph_.rollback(m.graph);
  names_.truncate(m.names);
  peers_.truncate(m.peers);
  while (dirty_.size() > m.dirty) {
    dirtyAt_.erase(dirty_.back().id);
    dirty_.pop_back();
  }
}

void Database::confirm() noexcept {
  last_.reset();
  committedStaging_.clear();
  graph_.clearJournal();
  oplog_.clearJournal();
  try {
    oplog_.seal();
  } catch (...) {
    // Out of memory: the open chunk grows on; sealing is retried at the next call.
  }
  rows_.confirm();
  indexes_.confirm();
  buffer_.confirm();
}

bool Database::undoLast() noexcept {
  if (!last_) return false;
  rollbackTo(*last_);
  last_.reset();
  if (!committedStaging_.empty()) staging_.swap(committedStaging_);
  committedStaging_.clear();
  return true;
}

class Database::Call {
 public:
  explicit Call(Database& db) : db_(db), mark_(db.beginCall()) {}
  ~Call() {
    if (!done_) db_.rollbackTo(mark_);
  }
  void succeed() {
    done_ = true;
    db_.last_ = mark_;
  }
  const CallMark& mark() const { return mark_; }

 private:
  Database& db_;
  CallMark mark_;
  bool done_ = false;
};

NameId Database::nameId(std::string_view name, NameId hint) {
  return hint != 0 ? hint : internName(name);
}

NameId Database::internName(std::string_view name) {
  NameId id = names_.intern(name);
  if (id > kMaxColumnId) {
    names_.truncate(id);
    throw Error(ErrorCode::Type, "more than " + std::to_string(kMaxColumnId) +
                                     " distinct table and column names in one database");
  }
  return id;
}

// ---- op log writing ----

namespace {

void writeHeader(ChunkWriter& w, const CausalGraph& g, const Interner& peers, PeerIdx peer, Seq seq,
                 std::span<const LV> parents, LV count) {
  bool linear = false;
  if (seq > 0 && parents.size() == 1) {
    const Stamp ps = g.stampOf(parents[0]);
    linear = ps.peer == peer && ps.seq + 1 == seq;
  }
  std::vector<ParentRef> refs;
  if (!linear) {
    refs.reserve(parents.size());
    for (LV p : parents) {
      Stamp s = g.stampOf(p);
      refs.push_back({w.peerOf(s.peer, peers.name(s.peer)), s.seq});
    }
    sortRange(refs.begin(), refs.end(), [&](const ParentRef& a, const ParentRef& b) {
      int c = w.peerName(a.peer).compare(w.peerName(b.peer));
      return c != 0 ? c < 0 : a.seq < b.seq;
    });
  }
  w.beginTxn(w.peerOf(peer, peers.name(peer)), seq, linear, refs, count);
}

// `edit`: a TextEdit's value parsed, if the caller has it.
void writeOp(ChunkWriter& w, const OpRef& op, const TextEditValue* edit = nullptr) {
  if (op.kind == OpKind::TextEdit) {
    const std::uint32_t table = w.name(op.table), key = w.key(op.key),
                        column = w.name(op.columns[0].name);
    if (edit) {
      w.textEdit(table, key, column, op.columns[0].value, *edit);
    } else {
      w.textEdit(table, key, column, op.columns[0].value);
    }
    return;
  }
  w.op(op.kind, w.name(op.table), op.key);
  if (op.kind == OpKind::DeleteRow) return;
  w.columnCount(op.columns.size());
  for (const ColumnRef& c : op.columns) w.column(w.name(c.name), c.value);
}

void finishUpdate(ChunkWriter& w, Bytes& out) {
  if (w.empty()) return;
  ByteWriter bw;
  std::size_t frame = beginFrame(bw, FrameKind::Changes);
  bw.varint(1);
  w.writeTo(bw);
  finishFrame(bw, frame);
  out = bw.take();
}

}  // namespace

// ---- local commits ----

namespace {

// Long strings changed by a short edit travel as a splice (RowDelta::StringSplice): a
// keystroke in a long text then sends the keystroke.
constexpr std::size_t kSpliceMinBytes = 256;
// `known()`: the splice the row store made (a text edit put into its cell), if any.
template <typename Known>
// `before` null: the value was spliced in place, and `known` tells how.
void noteSplice(RowDelta& d, NameId col, const ValueRef* before, ValueRef after, Known&& known) {
  if ((before && typeOf(*before) != ValueType::String) || typeOf(after) != ValueType::String)
    return;
  const std::string_view b = stringOf(after);
  if (b.size() < kSpliceMinBytes) return;
  const std::optional<Splice> made = known();
  if (!made && !before) throw Error(ErrorCode::Internal, "a text splice was not recorded");
  const Splice sp = made ? *made : spliceBetween(stringOf(*before), b);
  if ((sp.to - sp.from) * 2 > b.size()) return;  // mostly new: the string is as short
  d.splices.push_back({col, sp});
}

// A TypeError: the column of `op` holds `holds` ("a string"), not `kind` ("a set").
Error typeClash(const OpRef& op, const char* holds, const char* kind) {
  return Error(ErrorCode::Type, "column \"" + std::string(op.columns[0].name) + "\" of row \"" +
                                    std::string(op.key) + "\" in table \"" + std::string(op.table) +
                                    "\" holds " + holds + ", not " + kind);
}
Error typeClash(const OpRef& op, ValueRef current, const char* kind) {
  return typeClash(op, typeNameOf(current), kind);
}
// A set or counter op on a column that holds a text.
Error textClash(const OpRef& op) {
  return typeClash(op, "a text", isSetOp(op.kind) ? "a set" : "a counter");
}

// A set op names one column, which must hold a set or nothing (`current`: its value).
void checkSetOp(const OpRef& op, const ValueRef* current) {
  if (op.columns.size() != 1) {
    throw Error(ErrorCode::Type, "a set operation names exactly one column");
  }
  if (current && !isSetValue(*current)) throw typeClash(op, *current, "a set");
}

// An increment names one column, which must hold a number or nothing (`current`: its value),
// by a safe integer.
void checkIncrement(const OpRef& op, const ValueRef* current) {
  if (op.columns.size() != 1) throw Error(ErrorCode::Type, "an increment names exactly one column");
  if (typeOf(op.columns[0].value) != ValueType::Int) {
    throw Error(ErrorCode::Type, "a counter delta must be a safe integer");
  }
  if (current && !isNumber(*current)) throw typeClash(op, *current, "a counter");
}

// A local text op names one column; a create's value is null (the engine fills in the
// content), an edit's is the local form of merge/text_op.h.
void checkTextOp(const OpRef& op) {
  if (op.columns.size() != 1) throw Error(ErrorCode::Type, "a text operation names one column");
  if (op.kind == OpKind::TextCreate && typeOf(op.columns[0].value) != ValueType::Null) {
    throw Error(ErrorCode::Type, "a text is created from its column (the value must be null)");
  }
  if (op.kind == OpKind::TextEdit) readTextEdit(op.columns[0].value, false);
}

// Checks a set op or an increment against the value its column holds (nullptr: none).
void checkColumnOp(const OpRef& op, const ValueRef* current) {
  if (isSetOp(op.kind)) checkSetOp(op, current);
  if (op.kind == OpKind::Increment) checkIncrement(op, current);
  if (isTextOp(op.kind)) checkTextOp(op);
}

}  // namespace

RowId Database::applyLocalOp(const OpRef& op, std::optional<RowId> known, LV lv,
                             std::vector<ColumnWrite>& scratch, const TextEditValue* edit) {
  const RowId id = known ? *known : rows_.findOrCreate(nameId(op.table, op.tableId), op.key);
  if (isOneColumnOp(op.kind) && !isTextOp(op.kind)) {  // (text ops: namedTextOp)
    // Checked here, on the row as the transaction's earlier ops left it.
    const Cell* c = rows_.cell(rows_.row(id), op.columns[0].name);
    const ValueRef v = c ? c->value() : ValueRef{};
    const auto col = names_.find(op.columns[0].name);
    if (c && col && rows_.shownText(id, *col)) throw textClash(op);
    checkColumnOp(op, c ? &v : nullptr);
  }
  scratch.clear();
  for (const ColumnRef& c : op.columns) scratch.push_back({nameId(c.name, c.id), c.name, c.value});
  Observer all;  // a local event has seen everything here
  all.checks = &work_.observedChecks;
  rows_.apply(id, op.kind, scratch, lv, all, edit);
  return id;
}

ValueRef Database::namedTextOp(const OpRef& op, RowId id, Bytes& buf, TextEditValue& edit) const {
  const Cell* c = rows_.cell(rows_.row(id), op.columns[0].name);
  const auto col = names_.find(op.columns[0].name);
  LV created = 0;
  const list::TextColumn* t = c && col ? rows_.shownText(id, *col, &created) : nullptr;
  ByteWriter w;
  if (op.kind == OpKind::TextCreate) {
    if (t) throw typeClash(op, "a text already", "a new text");
    if (c && typeOf(c->value()) != ValueType::String) throw typeClash(op, c->value(), "a text");
    // A string column's text starts as the string.
    w.raw(c ? c->value() : emptyStringValue());
  } else {
    edit = readTextEdit(op.columns[0].value, false);
    if (!t) throw c ? typeClash(op, c->value(), "a text") : typeClash(op, "nothing", "a text");
    const Stamp s = graph_.stampOf(created);
    edit.named = true;
    edit.peer = peers_.name(s.peer);
    edit.seq = s.seq;
    writeTextEdit(edit.peer, edit.seq, edit, w);
  }
  buf = w.take();
  return buf;
}

ChangeSet Database::commit(std::span<const OpRef> ops, bool wantUpdate) {
  return commitOps(ops, wantUpdate);
}

ChangeSet Database::commitOps(std::span<const OpRef> input, bool wantUpdate) {
  Call call(*this);
  // Validate against the state as the transaction's own earlier ops leave it.
  std::map<std::pair<std::string_view, std::string_view>, bool> visibleAfter;
  std::vector<const OpRef*> ops;
  std::vector<std::optional<RowId>> rowsOf;  // rows found while validating (not re-hashed)
  std::vector<bool> resetAfter;
  // Per row, what the transaction did to its counters so far (which writes need claims).
  struct CounterTrack {
    std::set<std::string_view> incremented;  // columns incremented since their last claims
    std::set<std::string_view> claimed;      // committed counters an update claimed
    bool claimedAll = false;                 // ... or a row set or delete
  };
  std::map<std::pair<std::string_view, std::string_view>, CounterTrack> counterTrack;
  std::size_t events = 0;
  ops.reserve(input.size());
  rowsOf.reserve(input.size());
  for (const OpRef& op : input) {
    validateTableAndKey(op.table, op.key);
    for (const ColumnRef& c : op.columns) {
      if (c.name.size() > kMaxNameBytes || !isValidUtf8(c.name)) {
        throw Error(ErrorCode::Type, "column names must be UTF-8 strings of at most " +
                                         std::to_string(kMaxNameBytes) + " bytes");
      }
    }
    auto k = std::make_pair(op.table, op.key);
    auto s = visibleAfter.find(k);
    const bool touched = s != visibleAfter.end();
    bool visibleNow = touched ? s->second : false;
    std::optional<RowId> existing;
    if (!touched) {
      auto table = op.tableId != 0 ? std::optional<NameId>(op.tableId) : names_.find(op.table);
      if (table) existing = rows_.find(*table, op.key);
      visibleNow = existing && rows_.row(*existing).visible();
    } else if (auto table = names_.find(op.table)) {
      existing = rows_.find(*table, op.key);
    }
    switch (op.kind) {
      case OpKind::SetRow:
        visibleAfter[k] = true;
        break;
      case OpKind::AddToSet:
      case OpKind::RemoveFromSet:
      case OpKind::Increment:
      case OpKind::TextCreate:
      case OpKind::TextEdit:
        checkColumnOp(op, nullptr);
        if (op.kind == OpKind::Increment) counterTrack[k].incremented.insert(op.columns[0].name);
        [[fallthrough]];
      case OpKind::UpdateRow:
        if (!visibleNow) {
          throw Error(ErrorCode::NotFound, "cannot update row \"" + std::string(op.key) +
                                               "\" in table \"" + std::string(op.table) +
                                               "\": it does not exist");
        }
        break;
      case OpKind::DeleteRow:
        visibleAfter[k] = false;
        // Deleting a row with no state at all would record an event that changes nothing.
        if (!touched && (!existing || rows_.row(*existing).empty())) continue;
        break;
      case OpKind::CounterReset:
        throw Error(ErrorCode::Type, "counter resets are made by the engine, not written");
    }
    // A plain write that may remove increments is followed by the claims saying which
    // (merge/counter.h): decided now, as the event count is fixed before anything applies.
    bool reset = false;
    if (isPlainWrite(op.kind)) {
      auto found = counterTrack.find(k);
      const CounterTrack* t = found != counterTrack.end() ? &found->second : nullptr;
      // Whether committed counters (of column `c`; all: nullptr) still have live increments
      // this write removes.
      auto committedLive = [&](const ColumnRef* c) {
        if (!existing || (t && t->claimedAll)) return false;
        if (!c) return rows_.hasLiveCounter(*existing, nullptr);
        if (t && t->claimed.count(c->name)) return false;
        const auto col = c->id != 0 ? std::optional<NameId>(c->id) : names_.find(c->name);
        const std::vector<NameId> one{col.value_or(0)};
        return col && rows_.hasLiveCounter(*existing, &one);
      };
      if (op.kind == OpKind::UpdateRow) {
        for (const ColumnRef& c : op.columns) {
          reset = reset || (t && t->incremented.count(c.name)) || committedLive(&c);
        }
        if (reset) {
          CounterTrack& m = counterTrack[k];
          for (const ColumnRef& c : op.columns) {
            m.claimed.insert(c.name);
            m.incremented.erase(c.name);
          }
        }
      } else {
        reset = (t && !t->incremented.empty()) || committedLive(nullptr);
        if (reset) {
          CounterTrack& m = counterTrack[k];
          m.claimedAll = true;
          m.incremented.clear();
        }
      }
    }
    ops.push_back(&op);
    rowsOf.push_back(existing);
    resetAfter.push_back(reset);
    events += reset ? 2 : 1;
  }
  ChangeSet cs;
  if (!ops.empty()) {
    const Seq seq = graph_.nextSeq(self_);
    if (graph_.maxLamport() + events >= kMaxClock || seq + events >= kMaxClock) {
      // Only reachable when peers pushed the clock to the limit: refuse rather than wrap.
      throw Error(ErrorCode::Internal,
                  "Lamport clock exhausted: this database cannot accept writes");
    }
    if (graph_.size() + events > kMaxEvents) {
      throw Error(ErrorCode::Internal, "event limit reached: this database cannot accept writes");
    }
    const std::vector<LV> parents = graph_.frontier();
    const auto count = static_cast<LV>(events);
    ChunkWriter& update = updateWriter();
    writeHeader(oplog_.open(), graph_, peers_, self_, seq, parents, count);
    if (wantUpdate) writeHeader(update, graph_, peers_, self_, seq, parents, count);
    const LV start = graph_.append(self_, seq, parents, count);
    std::vector<ColumnWrite> scratch;
    LV lv = start;
    Bytes textBuf;
    auto record = [&](const OpRef& input, std::optional<RowId> known) {
      // A text op names its text in the log: resolved on the row as earlier ops left it.
      OpRef op = input;
      ColumnRef named;
      TextEditValue edit;
      if (isTextOp(op.kind)) {
        const RowId rid = known ? *known : rows_.findOrCreate(nameId(op.table, op.tableId), op.key);
        named = op.columns[0];
        named.value = namedTextOp(op, rid, textBuf, edit);
        op.columns = {&named, 1};
        known = rid;
      }
      const TextEditValue* parsed = op.kind == OpKind::TextEdit ? &edit : nullptr;
      const RowId id = applyLocalOp(op, known, lv++, scratch, parsed);
      // The op log's name indexes by replica name id (the ids applyLocalOp resolved).
      ChunkWriter& log = oplog_.open();
      const std::uint32_t table = oplog_.nameIndex(nameId(op.table, op.tableId), op.table);
      if (op.kind == OpKind::TextEdit) {
        log.textEdit(table, log.key(op.key),
                     oplog_.nameIndex(scratch[0].column, op.columns[0].name), op.columns[0].value,
                     edit);
      } else {
        log.op(op.kind, table, op.key);
      }
      if (op.kind != OpKind::DeleteRow && op.kind != OpKind::TextEdit) {
        log.columnCount(op.columns.size());
        for (std::size_t c = 0; c < op.columns.size(); ++c) {
          log.column(oplog_.nameIndex(scratch[c].column, op.columns[c].name), op.columns[c].value);
        }
      }
      if (wantUpdate) writeOp(update, op, parsed);
      return id;
    };
    for (std::size_t i = 0; i < ops.size(); ++i) {
      const OpRef& op = *ops[i];
      const RowId id = record(op, rowsOf[i]);
      if (!resetAfter[i]) continue;
      // The claims of the increments this write removed, as this replica numbers them.
      std::vector<NameId> named;
      for (const ColumnWrite& w : scratch) named.push_back(w.column);
      const auto claims = rows_.claimsOf(id, op.kind == OpKind::UpdateRow ? &named : nullptr);
      std::vector<ColumnRef> cols;
      for (const auto& [col, value] : claims) cols.push_back({names_.name(col), value, col});
      OpRef reset{OpKind::CounterReset, op.table, op.key, cols, op.tableId};
      record(reset, id);
    }
    oplog_.extendTo(graph_.size());
    keepHistoryBudget();
    cs = finish(call.mark());
    if (wantUpdate) finishUpdate(update, cs.update);
    cs.applied = count;
  }
  cs.pending = buffer_.heldEvents();
  call.succeed();
  return cs;
}

// ---- staging ----

namespace {

std::optional<StagedRow> committedRow(const RowStore& rows, const Interner& names,
                                      std::optional<RowId> id) {
  if (!id || !rows.row(*id).visible()) return std::nullopt;
  StagedRow r;
  for (const Cell& c : rows.row(*id).cells) {
    if (c.column() == kTokenColumn) continue;
    ValueRef v = c.value();
    r.columns.emplace_back(std::string(names.name(c.column())), Bytes(v.begin(), v.end()));
  }
  return r;
}

}  // namespace

std::optional<RowId> Database::findRow(std::string_view table, std::string_view key) const {
  auto t = names_.find(table);
  if (!t) return std::nullopt;
  return rows_.find(*t, key);
}

std::optional<StagedRow> Database::stagedRow(std::string_view table, std::string_view key,
                                             std::span<const Op> extra) const {
  const std::optional<RowId> id = findRow(table, key);
  // Changes whenever the committed row does (every change touches it in the call's epoch).
  const std::uint64_t stamp = id ? ((std::uint64_t{rows_.row(*id).touched} << 32) | *id) + 2 : 1;
  return staging_.fold(
      table, key, stamp, [&] { return committedRow(rows_, names_, id); }, extra);
}

bool Database::committedText(const OpRef& op, const std::vector<Op>& pending) const {
  const std::optional<RowId> id = findRow(op.table, op.key);
  const std::string_view name = op.columns[0].name;
  const auto col = names_.find(name);
  if (!id || !col || rows_.shownText(*id, *col) == nullptr) return false;
  auto rewrites = [&](const Op& o) {
    if (o.table != op.table || o.key != op.key) return false;
    if (o.kind == OpKind::SetRow || o.kind == OpKind::DeleteRow) return true;
    return std::any_of(o.columns.begin(), o.columns.end(),
                       [&](const auto& c) { return c.first == name; });
  };
  return std::none_of(staging_.ops().begin(), staging_.ops().end(), rewrites) &&
         std::none_of(pending.begin(), pending.end(), rewrites);
}

void Database::stage(std::span<const OpRef> input) {
  // Validate the batch as it applies after what is staged (visibility of the batch's own
  // rows tracked here: no re-fold per op).
  std::vector<Op> pending;
  pending.reserve(input.size());
  std::map<std::pair<std::string_view, std::string_view>, bool> visibleAfter;
  for (const OpRef& op : input) {
    validateTableAndKey(op.table, op.key);
    auto k = std::make_pair(op.table, op.key);
    auto it = visibleAfter.find(k);
    const bool visibleNow =
        it != visibleAfter.end() ? it->second : stagedRow(op.table, op.key).has_value();
    if (op.kind == OpKind::CounterReset) {
      throw Error(ErrorCode::Type, "counter resets are made by the engine, not written");
    }
    if (isTextOp(op.kind)) {
      throw Error(ErrorCode::Type, "text operations commit at once: they cannot be staged");
    }
    const bool update = op.kind == OpKind::UpdateRow || isOneColumnOp(op.kind);
    if (update && !visibleNow) {
      throw Error(ErrorCode::NotFound, "cannot update row \"" + std::string(op.key) +
                                           "\" in table \"" + std::string(op.table) +
                                           "\": it does not exist");
    }
    if (isOneColumnOp(op.kind)) {
      checkColumnOp(op, nullptr);
      // The folded row shows a text as its string: ask the committed row while nothing staged
      // has written the column since.
      if (committedText(op, pending)) throw textClash(op);
      const auto row = stagedRow(op.table, op.key, pending);
      const auto& cols = row->columns;
      const std::string_view name = op.columns[0].name;
      auto it =
          std::find_if(cols.begin(), cols.end(), [&](const auto& c) { return c.first == name; });
      if (it != cols.end()) {
        const ValueRef v(it->second);
        checkColumnOp(op, &v);
      }
    }
    visibleAfter[k] = op.kind == OpKind::SetRow || (update && visibleNow);
    pending.push_back(ownedOf(op));
  }
  staging_.add(std::move(pending));
  committedStaging_.clear();  // a later undoLast() reverts a commit, not this batch
}

ChangeSet Database::commitStaged(std::span<const OpRef> extra, bool wantUpdate) {
  std::vector<std::vector<ColumnRef>> colStore(staging_.size());
  std::vector<OpRef> all;
  all.reserve(staging_.size() + extra.size());
  for (std::size_t i = 0; i < staging_.size(); ++i)
    all.push_back(refOf(staging_.ops()[i], colStore[i]));
  all.insert(all.end(), extra.begin(), extra.end());
  ChangeSet cs = commitOps(all, wantUpdate);
  // Kept until the next call, so undoLast() brings the staged transaction back too.
  staging_.swap(committedStaging_);
  staging_.clear();
  return cs;
}

// ---- remote changes ----

namespace {

// Re-encodes a run as a standalone chunk (for the held set).
Bytes extractRun(ByteSpan bytes, const ChunkTables& t, const TxnRunView& run, std::uint64_t seed) {
  ChunkWriter w(seed);
  TxnCursor cur(bytes, run.begin, run.end);
  Seq prevEnd = run.seq;
  OpRef op;
  std::vector<ColumnRef> cols;
  for (std::uint32_t k = 0; k < run.txnCount; ++k) {
    TxnHeader h = cur.header(prevEnd);
    prevEnd = h.seq + h.opCount;
    std::vector<ParentRef> refs;
    for (const ParentRef& p : h.parents) refs.push_back({w.peer(t.peers[p.peer]), p.seq});
    w.beginTxn(w.peer(t.peers[h.peer]), h.seq, h.linear, refs, h.opCount);
    for (std::uint32_t i = 0; i < h.opCount; ++i) {
      cur.op(t, op, cols);
      writeOp(w, op);
    }
  }
  ByteWriter out;
  w.writeTo(out);
  Bytes b = out.take();
  b.shrink_to_fit();
  return b;
}

}  // namespace

void Database::processRun(ApplyState& st, const RunSource& src) {
  const TxnRunView& run = *src.run;
  const PeerIdx p = peerOf(src, run.peer, peers_);
  const Seq known = graph_.nextSeq(p);
  ++work_.runsChecked;
  if (known >= run.seq + run.events) {  // a duplicate
    if (src.held) buffer_.drop(src.heldId);
    return;
  }
  // What it waits for: its peer's previous event, then its first transaction's parents, even
  // when a prefix of the run is known. In an honest history a known prefix implies known
  // parents; a forked peer can make the prefix known without them, and applying the rest then
  // would make a second delivery of the same message apply more than the first.
  std::optional<std::pair<PeerIdx, Seq>> wait;
  if (known < run.seq) {
    wait = {p, run.seq - 1};
  } else if (!run.linear) {
    for (std::uint32_t i = 0; i < run.parentCount && !wait; ++i) {
      const ParentRef& pr = src.parents[run.parentsBegin + i];
      const PeerIdx q = peerOf(src, pr.peer, peers_);
      if (graph_.nextSeq(q) <= pr.seq) wait = {q, pr.seq};
    }
  }
  if (wait) {
    if (src.held) {
      buffer_.wait(src.heldId, wait->first, wait->second);
    } else {
      Bytes chunk = extractRun(src.bytes, *src.tables, run, hashSeed_);
      if (auto same = buffer_.holds(chunk, &work_.heldCompared)) {
        // Already held: this message carries it too (it answers for it if it proves invalid).
        st.resent.push_back(*same);
      } else {
        buffer_.hold(HeldRun{std::move(chunk), p, run.seq, run.seq + run.events}, wait->first,
                     wait->second);
      }
    }
    return;
  }

  // Ready: the run's unknown events are one graph append; then each transaction is written
  // to the op log (its own boundaries) and its ops merged into the rows.
  const Seq seq0 = std::max(known, run.seq);
  const LV count = static_cast<LV>(run.seq + run.events - seq0);
  std::vector<LV> parents;
  if (known > run.seq || run.linear) {
    parents.push_back(*graph_.lvOf(p, seq0 - 1));
  } else {
    for (std::uint32_t i = 0; i < run.parentCount; ++i) {
      const ParentRef& pr = src.parents[run.parentsBegin + i];
      parents.push_back(*graph_.lvOf(peerOf(src, pr.peer, peers_), pr.seq));
    }
    sortRange(parents.begin(), parents.end());
    parents.erase(std::unique(parents.begin(), parents.end()), parents.end());
    // A peer's events must form a chain, or version vectors could not answer "seen?".
    if (seq0 > 0 && graph_.seenOf(parents, p) < seq0) {
      // A run held by an earlier message proved invalid: drop it, keep this message. One of
      // this message's own runs makes the whole message invalid, held for a while or not.
      if (src.held && !CausalBuffer::heldSince(*st.bufferMark, src.heldId) &&
          std::find(st.resent.begin(), st.resent.end(), src.heldId) == st.resent.end()) {
        buffer_.drop(src.heldId);
        return;
      }
      throw DecodeError("transaction " + std::string(peers_.name(p)) + ":" + std::to_string(seq0) +
                        " does not have its peer's previous event in its past");
    }
  }
  if (run.events > kMaxEvents - graph_.size()) {
    throw DecodeError("the replica's event limit is reached");
  }
  if (graph_.maxLamport(parents) + count >= kMaxClock)
    throw DecodeError("Lamport time out of range");
  const bool sawAll = graph_.isFrontier(parents);
  const LV start = graph_.append(p, seq0, parents, count);
  Observer obs;
  obs.checks = &work_.observedChecks;
  obs.remote = true;
  if (!sawAll) {
    const std::size_t ri = graph_.runIndexAt(start);
    obs.all = false;
    obs.graph = &graph_;
    obs.vv = graph_.runVV(ri);
    obs.runStart = graph_.runs()[ri].start;
  }

  // Chunk-local names, keys and rows resolve once per chunk, not once per op.
  ChunkCache& cache = src.held ? st.heldCache : st.cache;
  if (cache.serial != src.chunkSerial) {
    cache.reset(*src.tables, src.chunkSerial);
    work_.tableSlotsReset += src.tables->names.size() + src.tables->keys.size();
  }
  const ChunkTables& tables = *src.tables;
  auto nameId = [&](std::uint32_t i) {
    if (cache.names[i] == ChunkCache::kUnset) cache.names[i] = internName(tables.names[i]);
    return cache.names[i];
  };
  TxnCursor cur(src.bytes, run.begin, run.end);
  // Typed characters (one unit each, each right after the previous, consecutive events of one
  // text) go to the row store as one run: one text op and one cell splice, not one each.
  TypedRun& typed = st.typed;
  typed.events = 0;
  auto flushTyped = [&] {
    if (typed.events == 0) return;
    TextEditValue e = typed.edit;
    e.content = typed.content;
    st.writes.clear();
    st.writes.push_back({typed.column, typed.name, {}});
    obs.self = typed.first;
    const std::uint32_t events = typed.events;
    typed.events = 0;
    rows_.apply(typed.row, OpKind::TextEdit, st.writes, typed.first, obs, &e, events);
  };
  auto writeLogged = [&](ChunkWriter& w, std::vector<std::uint32_t>& names,
                         std::vector<std::uint32_t>& keys, const OpRef& o) {
    const std::uint32_t table = ChunkCache::writerIndex(names, st.idx.table, o.table, w, false);
    const std::uint32_t key = ChunkCache::writerIndex(keys, st.idx.key, o.key, w, true);
    if (o.kind == OpKind::TextEdit) {
      w.textEdit(table, key,
                 ChunkCache::writerIndex(names, st.idx.columns[0], o.columns[0].name, w, false),
                 o.columns[0].value, cur.lastEdit());
      return;
    }
    w.opByIndex(o.kind, table, key);
    if (o.kind == OpKind::DeleteRow) return;
    w.columnCount(o.columns.size());
    for (std::size_t c = 0; c < o.columns.size(); ++c) {
      w.column(ChunkCache::writerIndex(names, st.idx.columns[c], o.columns[c].name, w, false),
               o.columns[c].value);
    }
  };
  Seq prevEnd = run.seq;
  OpRef op;
  for (std::uint32_t t = 0; t < run.txnCount; ++t) {
    TxnHeader h = cur.header(prevEnd);
    prevEnd = h.seq + h.opCount;
    if (h.seq + h.opCount <= seq0) {
      for (std::uint32_t i = 0; i < h.opCount; ++i) cur.skipOp();
      continue;
    }
    const auto skip = static_cast<std::uint32_t>(seq0 > h.seq ? seq0 - h.seq : 0);
    for (std::uint32_t i = 0; i < skip; ++i) cur.skipOp();
    const Seq txnSeq = h.seq + skip;
    const auto txnCount = static_cast<LV>(h.opCount - skip);
    const auto txnStart = static_cast<LV>(start + (txnSeq - seq0));
    const LV own[1] = {txnStart - 1};
    const std::span<const LV> txnParents =
        txnStart == start ? std::span<const LV>(parents) : std::span<const LV>(own, 1);
    writeHeader(oplog_.open(), graph_, peers_, p, txnSeq, txnParents, txnCount);
    if (st.update) writeHeader(*st.update, graph_, peers_, p, txnSeq, txnParents, txnCount);
    for (LV i = 0; i < txnCount; ++i) {
      cur.op(tables, op, st.cols, &st.idx);
      const LV lv = txnStart + i;
      const NameId table = nameId(st.idx.table);
      auto& cached = cache.rows[st.idx.key];
      std::optional<RowId> id;
      if (cached.first == table) {
        id = cached.second;
      } else {
        id = op.kind == OpKind::DeleteRow ? rows_.find(table, op.key)
                                          : std::optional<RowId>(rows_.findOrCreate(table, op.key));
        if (id) cached = {table, *id};
      }
      const TextEditValue* edit = op.kind == OpKind::TextEdit ? &cur.lastEdit() : nullptr;
      if (id && edit && typed.extend(*id, nameId(st.idx.columns[0]), *edit, lv)) {
        // (applied with the rest of its run)
      } else if (id) {
        flushTyped();
        if (edit && TypedRun::typable(*edit)) {
          typed.begin(*id, nameId(st.idx.columns[0]), op.columns[0].name, *edit, lv);
        } else {
          st.writes.clear();
          for (std::size_t c = 0; c < op.columns.size(); ++c) {
            st.writes.push_back(
                {nameId(st.idx.columns[c]), op.columns[c].name, op.columns[c].value});
          }
          obs.self = lv;
          rows_.apply(*id, op.kind, st.writes, lv, obs, edit);
        }
      }
      writeLogged(oplog_.open(), cache.logNames, cache.logKeys, op);
      if (st.update) writeLogged(*st.update, cache.updNames, cache.updKeys, op);
    }
  }
  flushTyped();
  oplog_.extendTo(graph_.size());
  st.applied += count;
  if (src.held) buffer_.drop(src.heldId);
  st.progress.push_back(p);
}

ChunkWriter& Database::updateWriter() {
  constexpr std::size_t kKeepBytes = 64 * 1024;
  if (update_.memoryBytes() > kKeepBytes) {
    update_ = ChunkWriter(hashSeed_);
  } else {
    update_.clear();
  }
  return update_;
}

void Database::cascade(ApplyState& st) {
  while (!st.progress.empty()) {
    const PeerIdx p = st.progress.back();
    st.progress.pop_back();
    for (CausalBuffer::Id id : buffer_.release(p, graph_.nextSeq(p))) {
      // Decode the held run's chunk (valid: it was checked when it arrived).
      const HeldRun& held = buffer_.run(id);
      ByteReader r(held.chunk);
      DecodedChanges dc;
      decodeChunk(r, 0, dc, hashSeed_);
      std::vector<PeerIdx> peers(dc.chunks[0].peers.size(), kUnsetPeer);
      RunSource src{held.chunk,        &dc.chunks[0], &dc.runs[0], &peers,
                    dc.parents.data(), true,          id,          ++st.nextSerial};
      processRun(st, src);
    }
  }
}

ChangeSet Database::applyChanges(ByteSpan bytes, bool wantUpdate) {
  if (frameKind(bytes) == FrameKind::Snapshot) {
    return applySnapshot(decodeFrame(bytes, FrameKind::Snapshot), wantUpdate);
  }
  // Everything that can be checked without replica state is checked before the call starts.
  const ByteSpan payload = decodeFrame(bytes, FrameKind::Changes);
  const DecodedChanges dc = decodeChangesPayload(payload, hashSeed_);
  Call call(*this);
  std::vector<std::vector<PeerIdx>> chunkPeers(dc.chunks.size());
  for (std::size_t c = 0; c < dc.chunks.size(); ++c) {
    chunkPeers[c].assign(dc.chunks[c].peers.size(), kUnsetPeer);
  }
  ChunkWriter& update = updateWriter();
  ApplyState st;
  st.nextSerial = dc.chunks.size() + 1;
  st.bufferMark = &call.mark().buffer;
  if (wantUpdate) st.update = &update;
  for (const TxnRunView& run : dc.runs) {
    RunSource src{
        payload, &dc.chunks[run.chunk], &run, &chunkPeers[run.chunk], dc.parents.data(), false,
        0,       run.chunk + 1};
    processRun(st, src);
    cascade(st);
  }
  keepHistoryBudget();
  ChangeSet cs = finish(call.mark());
  if (wantUpdate) finishUpdate(update, cs.update);
  cs.applied = st.applied;
  cs.pending = buffer_.heldEvents();
  call.succeed();
  return cs;
}

ChangeSet Database::applySnapshot(ByteSpan payload, bool wantUpdate) {
  // Decoded and validated whole before the call starts.
  const std::unique_ptr<Database> s = decodeSnapshot(payload);
  work_.loadDecodedBytes += s->work_.loadDecodedBytes;
  Call call(*this);
  ApplyState st;
  st.nextSerial = 1;
  st.bufferMark = &call.mark().buffer;
  const LV added = joinSnapshot(*s, st.progress);
  cascade(st);  // held runs that waited for what the snapshot brought
  keepHistoryBudget();
  ChangeSet cs = finish(call.mark());
  if (wantUpdate && added + st.applied > 0) {
    // Its events are not in the log: what this call adds travels on as a snapshot too.
    ByteWriter w;
    writeSnapshot(w);
    cs.update = w.take();
  }
  cs.applied = added + st.applied;
  cs.pending = buffer_.heldEvents();
  call.succeed();
  return cs;
}

std::size_t Database::compact(std::size_t keepBytes) {
  Call call(*this);
  const LV before = oplog_.folded();
  oplog_.fold(keepBytes == 0 ? graph_.size() : oplog_.foldPointFor(keepBytes));
  call.succeed();
  return oplog_.folded() - before;
}

std::size_t Database::compactAcked(std::span<const ByteSpan> acked) {
  // A peer's events have increasing LVs, so the first one a version lacks, (p, next[p]), is
  // where its uncovered LVs begin; the fold point is the least of those over every peer of
  // every version. Decoded first: a bad version folds nothing.
  std::vector<VersionVector> versions;
  versions.reserve(acked.size());
  for (ByteSpan v : acked) versions.push_back(decodeVersion(v));
  LV point = static_cast<LV>(graph_.size());
  std::vector<Seq> next(peers_.size());
  for (const VersionVector& vv : versions) {
    std::fill(next.begin(), next.end(), 0);
    for (const auto& [peer, seq] : vv) {
      if (auto idx = peers_.find(peer); idx && *idx < next.size()) next[*idx] = seq;
    }
    for (PeerIdx p = 0; p < graph_.peerCount(); ++p) {
      if (next[p] >= graph_.nextSeq(p)) continue;  // it has all of p's events we have
      if (auto lv = graph_.lvOf(p, next[p]); lv && *lv < point) point = *lv;
    }
  }
  Call call(*this);
  const LV before = oplog_.folded();
  const LV boundary = oplog_.boundaryAtOrBefore(point);
  if (boundary > before) oplog_.fold(boundary);
  call.succeed();
  return oplog_.folded() - before;
}

// ---- the change set of a call ----

ChangeSet Database::finish(const CallMark& m) {
  rows_.settleSets();
  ChangeSet cs;
  // Each changed column's value before the call, from the row journal (first entry wins). A
  // text edit spliced in place keeps no old value: made only if an index or storage asks.
  struct Changed {
    RowId row;
    NameId column;
    const Cell* before;
    std::size_t splice;
    std::size_t order;
    const Bytes* made;
  };
  std::vector<Changed> changed;
  std::deque<Bytes> madeBefore;
  rows_.forEachChangedColumn(
      m.rows, [&](RowId row, NameId col, const Cell* before, std::size_t splice) {
        changed.push_back({row, col, before, splice, changed.size(), nullptr});
      });
  sortRange(changed.begin(), changed.end(), [](const Changed& a, const Changed& b) {
    if (a.row != b.row) return a.row < b.row;
    if (a.column != b.column) return a.column < b.column;
    return a.order < b.order;
  });
  changed.erase(std::unique(changed.begin(), changed.end(),
                            [](const Changed& a, const Changed& b) {
                              return a.row == b.row && a.column == b.column;
                            }),
                changed.end());

  const auto& touched = rows_.touchedRows();
  for (std::size_t ti = m.rows.touched; ti < touched.size(); ++ti) {
    const RowId id = touched[ti];
    const Row& r = rows_.row(id);
    const bool created = rows_.createdThisCall(id);
    auto lo = std::lower_bound(changed.begin(), changed.end(), id,
                               [](const Changed& c, RowId x) { return c.row < x; });
    auto hi = lo;
    while (hi != changed.end() && hi->row == id) ++hi;
    auto changeOf = [&](NameId col) -> Changed* {
      auto it =
          std::lower_bound(lo, hi, col, [](const Changed& c, NameId x) { return c.column < x; });
      return it != hi && it->column == col ? &*it : nullptr;
    };
    const ColumnLookup after = lookupIn(rows_, r);
    const ColumnLookup before = [&](std::string_view name) -> std::optional<ValueRef> {
      if (created) return std::nullopt;
      auto col = names_.find(name);
      if (col) {
        if (Changed* ch = changeOf(*col)) {
          if (ch->splice != RowStore::kNotSpliced) {
            if (!ch->made) ch->made = &madeBefore.emplace_back(rows_.valueBeforeSplice(ch->splice));
            return ValueRef(*ch->made);
          }
          return ch->before ? std::optional<ValueRef>(ch->before->value()) : std::nullopt;
        }
      }
      return after(name);
    };
    bool beforeVisible;
    if (created) {
      beforeVisible = false;
    } else if (const Changed* t = changeOf(kTokenColumn)) {
      beforeVisible = t->before != nullptr;
    } else {
      beforeVisible = r.visible();
    }
    const bool afterVisible = r.visible();
    if (tracking_) noteDirty(id, beforeVisible ? &before : nullptr);
    if (!beforeVisible && !afterVisible) continue;

    RowDelta delta{id, RowDelta::New, {}, {}};
    if (!beforeVisible) {
      delta.kind = RowDelta::New;
    } else if (!afterVisible) {
      delta.kind = RowDelta::Gone;
    } else {
      bool full = false;
      for (auto it = lo; it != hi && !full; ++it) {
        if (it->column == kTokenColumn) continue;
        const Cell* now = rows_.cell(r, names_.name(it->column));
        if (it->splice != RowStore::kNotSpliced) {
          // Spliced in place (the cell's last change): a different string of the same text.
          if (!now) throw Error(ErrorCode::Internal, "a spliced text cell is gone");
          delta.columns.push_back(it->column);
          noteSplice(delta, it->column, nullptr, now->value(),
                     [&] { return rows_.splicedInPlace(id, it->column); });
        } else if ((it->before != nullptr) != (now != nullptr)) {
          full = true;
        } else if (now && !equalBytes(it->before->value(), now->value())) {
          delta.columns.push_back(it->column);
          const ValueRef was = it->before->value();
          noteSplice(delta, it->column, &was, now->value(),
                     [&] { return rows_.cellSplice(id, it->column, was, now->value()); });
        }
      }
      if (full) {
        delta.kind = RowDelta::Full;
        delta.columns.clear();
      } else if (!delta.columns.empty()) {
        delta.kind = RowDelta::Patch;
      } else {
        continue;  // same columns, same values: nothing visible changed
      }
    }
    const std::string_view table = names_.name(r.table);
    const bool watched = subs_.watches(table);
    indexes_.onRowChange(id, table, r.key, beforeVisible ? &before : nullptr,
                         afterVisible ? &after : nullptr,
                         [&](std::string_view index, std::string_view keyPart) {
                           if (watched) subs_.stab(table, index, keyPart, cs.subscriptions);
                         });
    cs.rows.push_back(std::move(delta));
  }
  sortRange(cs.subscriptions.begin(), cs.subscriptions.end());
  cs.subscriptions.erase(std::unique(cs.subscriptions.begin(), cs.subscriptions.end()),
                         cs.subscriptions.end());
  return cs;
}

// ---- versions and history ----

Bytes Database::version() const {
  VersionVector vv;
  for (PeerIdx p = 0; p < graph_.peerCount(); ++p) {
    if (graph_.nextSeq(p) > 0) vv.emplace_back(std::string(peers_.name(p)), graph_.nextSeq(p));
  }
  sortRange(vv.begin(), vv.end());
  return encodeVersion(vv);
}

void Database::changesSince(const ByteSpan* versionBytes, ByteWriter& out) const {
  std::vector<Seq> theirs(peers_.size(), 0);
  if (versionBytes) {
    for (const auto& [peer, next] : decodeVersion(*versionBytes)) {
      if (auto idx = peers_.find(peer)) theirs[*idx] = next;
    }
  }
  if (oplog_.lacksFolded(graph_, theirs)) {
    if (durableSelf_ >= graph_.nextSeq(self_)) {
      writeSnapshot(out);
      return;
    }
    // A snapshot carries every own event, so it waits until they are all durable; until then
    // there is nothing the holder of `version` can use.
    const std::size_t frame = beginFrame(out, FrameKind::Changes);
    out.varint(0);
    finishFrame(out, frame);
    return;
  }
  const std::size_t frame = beginFrame(out, FrameKind::Changes);
  oplog_.changesSince(graph_, peers_, theirs, {self_, durableSelf_}, out);
  finishFrame(out, frame);
}

// ---- indexes, queries, subscriptions ----

void Database::declareIndexes(const std::vector<IndexDef>& defs) {
  std::map<std::string, bool> seen;
  for (const IndexDef& d : defs) {
    IndexSet::validate(d);
    if (!seen.emplace(d.name, true).second) {
      throw Error(ErrorCode::Type, "index \"" + d.name + "\" is declared twice");
    }
  }
  confirm();
  std::vector<std::string> build;
  IndexSet::Declared next = indexes_.prepare(defs, build);
  for (const std::string& name : build) {
    const IndexDef& d = next.at(name).def;
    auto table = names_.find(d.table);
    if (!table) continue;
    rows_.forEachVisible(*table, [&](RowId id, const Row& r) {
      IndexSet::addTo(next, name, id, r.key, lookupIn(rows_, r));
    });
  }
  indexes_.install(std::move(next));
}

std::vector<QueryHit> Database::query(const std::string& table, const std::string& index,
                                      const KeyRange& range, const QueryOptions& opts) const {
  return indexes_.query(table, index, range, opts);
}

std::vector<StagedHit> Database::queryStaged(const std::string& table, const std::string& index,
                                             const KeyRange& range,
                                             const QueryOptions& opts) const {
  if (staging_.empty()) {
    std::vector<StagedHit> out;
    for (const QueryHit& h : indexes_.query(table, index, range, opts)) {
      out.push_back({h.row, rows_.row(h.row).key, false});
    }
    return out;
  }
  const std::string& t = indexes_.tableOf(table, index);
  const IndexDef* def = index.empty() ? nullptr : indexes_.def(index);
  std::vector<std::string> removed;
  std::vector<std::pair<std::string, std::uint32_t>> added;
  std::map<std::string, std::string> stagedKeys;  // entry → key, for rows the stage touches
  auto lookupIn = [](const StagedRow& row) {
    return [&row](std::string_view col) -> std::optional<ValueRef> {
      auto it = std::lower_bound(row.columns.begin(), row.columns.end(), col,
                                 [](const auto& c, std::string_view n) { return c.first < n; });
      if (it == row.columns.end() || it->first != col) return std::nullopt;
      return ValueRef(it->second);
    };
  };
  for (const std::string& key : staging_.keysOf(t)) {
    const std::optional<RowId> id = findRow(t, key);
    const std::optional<StagedRow> committed = committedRow(rows_, names_, id);
    const std::optional<StagedRow> now = stagedRow(t, key);
    std::vector<std::string> entries;
    if (committed) IndexSet::entriesFor(def, key, lookupIn(*committed), removed);
    if (now) IndexSet::entriesFor(def, key, lookupIn(*now), entries);
    for (std::string& e : entries) {
      stagedKeys.emplace(e, key);
      added.emplace_back(std::move(e), committed ? *id : kNoRow);
    }
  }
  std::vector<StagedHit> out;
  for (const QueryHit& h : indexes_.queryOverlay(table, index, range, opts, removed, added)) {
    auto it = stagedKeys.find(std::string(h.entry));
    if (it != stagedKeys.end()) {
      out.push_back({h.row, it->second, true});
    } else {
      out.push_back({h.row, rows_.row(h.row).key, false});
    }
  }
  return out;
}

std::size_t Database::count(const std::string& table, const std::string& index,
                            const KeyRange& range, bool staged) const {
  if (!staged || staging_.empty()) return indexes_.count(table, index, range);
  return queryStaged(table, index, range, QueryOptions{}).size();
}

std::uint32_t Database::subscribe(const std::string& table, const std::string& index,
                                  const KeyRange& range) {
  return subs_.add(indexes_.tableOf(table, index), index, range);
}

// ---- checks ----

void Database::checkInvariants() const {
  graph_.checkInvariants();
  if (oplog_.size() != graph_.size() || oplog_.folded() > oplog_.size()) {
    throw Error(ErrorCode::Internal, "op log size mismatch");
  }
  rows_.checkInvariants();
  indexes_.checkInvariants();
  // Every visible row is in its table's primary order and in each index it belongs to, with
  // its own row id, and the indexes hold nothing else.
  auto fail = [](const std::string& what) {
    throw Error(ErrorCode::Internal, "index invariant violated: " + what);
  };
  std::map<std::pair<std::string, std::string>, std::size_t> expected;
  for (RowId id = 0; id < rows_.slotCount(); ++id) {
    if (!rows_.live(id) || !rows_.row(id).visible()) continue;
    const Row& r = rows_.row(id);
    const std::string table(names_.name(r.table));
    const ColumnLookup col = lookupIn(rows_, r);
    std::vector<std::string> entries;
    auto check = [&](const IndexDef* def, const std::string& index) {
      entries.clear();
      IndexSet::entriesFor(def, r.key, col, entries);
      for (const std::string& entry : entries) {
        const OrderedIndex* ix = indexes_.find(table, index);
        if (!ix || !ix->contains(entry))
          fail("row \"" + r.key + "\" missing from " + (index.empty() ? table : index));
        ++expected[{table, index}];
      }
    };
    check(nullptr, "");
    indexes_.forEachDef([&](const IndexDef& d) {
      if (d.table == table) check(&d, d.name);
    });
  }
  for (const auto& [key, n] : expected) {
    if (indexes_.find(key.first, key.second)->size() != n) fail("extra entries in " + key.second);
  }
  indexes_.forEachDef([&](const IndexDef& d) {
    const OrderedIndex* ix = indexes_.find(d.table, d.name);
    if (ix && ix->size() > 0 && !expected.count({d.table, d.name}))
      fail("stale entries in " + d.name);
  });
}

}  // namespace crdtdb
