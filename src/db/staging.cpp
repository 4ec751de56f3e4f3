#include "db/staging.h"

#include <algorithm>

#include "core/reserve.h"
#include "merge/add_wins_set.h"
#include "merge/counter.h"

namespace crdtdb {

void Staging::add(std::vector<Op>&& ops) {
  // Strong guarantee without copying what is staged: index the batch, undo on failure.
  const std::size_t base = ops_.size();
  std::size_t indexed = 0;
  try {
    reserveMore(ops_, ops.size());
    for (; indexed < ops.size(); ++indexed) {
      byRow_[{ops[indexed].table, ops[indexed].key}].push_back(base + indexed);
    }
  } catch (...) {
    if (indexed < ops.size()) {  // its entry may have been created empty
      auto it = byRow_.find({ops[indexed].table, ops[indexed].key});
      if (it != byRow_.end() && it->second.empty()) byRow_.erase(it);
    }
    for (std::size_t i = indexed; i-- > 0;) {
      auto it = byRow_.find({ops[i].table, ops[i].key});
      it->second.pop_back();
      if (it->second.empty()) byRow_.erase(it);
    }
    throw;
  }
  for (Op& op : ops) ops_.push_back(std::move(op));
}

std::vector<std::string> Staging::keysOf(std::string_view table) const {
  std::vector<std::string> out;
  for (const auto& [rk, idx] : byRow_) {
    if (rk.first == table) out.push_back(rk.second);
  }
  return out;
}

namespace {

// Where column `name` is, or goes, in a staged row's columns (sorted by name).
auto columnAt(std::vector<std::pair<std::string, Bytes>>& cols, const std::string& name) {
  return std::lower_bound(cols.begin(), cols.end(), name,
                          [](const auto& c, const std::string& n) { return c.first < n; });
}

}  // namespace

void Staging::applyTo(std::optional<StagedRow>& row, const Op& op) {
  switch (op.kind) {
    case OpKind::SetRow:
      row = StagedRow{op.columns};
      break;
    case OpKind::UpdateRow: {
      if (!row) return;  // validated before staging: cannot happen for staged ops
      auto& cols = row->columns;
      for (const auto& [name, value] : op.columns) {
        auto it = columnAt(cols, name);
        if (it != cols.end() && it->first == name) {
          it->second = value;
        } else {
          cols.insert(it, {name, value});
        }
      }
      break;
    }
    case OpKind::DeleteRow:
      row.reset();
      break;
    case OpKind::AddToSet:
    case OpKind::RemoveFromSet: {
      if (!row) return;  // validated before staging: cannot happen for staged ops
      auto& cols = row->columns;
      const auto& [name, element] = op.columns[0];
      auto it = columnAt(cols, name);
      if (it == cols.end() || it->first != name) {
        if (op.kind == OpKind::RemoveFromSet) return;  // not a write: nothing to remove from
        it = cols.insert(it, {name, {tag::kSet, 0}});
      }
      if (!isSetValue(it->second)) return;  // validated before staging: cannot happen either
      ByteWriter w;
      writeSetValueWith(it->second, element, op.kind == OpKind::AddToSet, w);
      it->second = w.take();
      break;
    }
    case OpKind::Increment: {
      if (!row) return;  // validated before staging: cannot happen for staged ops
      auto& cols = row->columns;
      const auto& [name, delta] = op.columns[0];
      auto it = columnAt(cols, name);
      ByteWriter w;
      const auto d = static_cast<std::int64_t>(numberOf(delta));
      if (it == cols.end() || it->first != name) {
        writeCounterValue({}, d, w);
        cols.insert(it, {name, w.take()});
        return;
      }
      writeCounterValue(it->second, d, w);  // validated: a number
      it->second = w.take();
      break;
    }
    case OpKind::CounterReset:
    case OpKind::TextCreate:
    case OpKind::TextEdit:
      break;  // made by the engine at commit, or committed at once: never staged
  }
}

std::optional<StagedRow> Staging::fold(std::string_view table, std::string_view key,
                                       std::uint64_t stamp,
                                       const std::function<std::optional<StagedRow>()>& committed,
                                       std::span<const Op> extra) const {
  auto it = byRow_.find({std::string(table), std::string(key)});
  if (it == byRow_.end()) return fold(table, key, committed(), extra);
  Fold& f = folds_[it->first];
  if (f.stamp != stamp || f.applied > it->second.size()) {
    f = Fold{stamp, 0, committed()};
  }
  for (; f.applied < it->second.size(); ++f.applied) {
    applyTo(f.row, ops_[it->second[f.applied]]);
    ++foldedOps_;
  }
  std::optional<StagedRow> out = f.row;
  for (const Op& op : extra) {
    if (op.table == table && op.key == key) applyTo(out, op);
  }
  return out;
}

std::optional<StagedRow> Staging::fold(std::string_view table, std::string_view key,
                                       std::optional<StagedRow> committed,
                                       std::span<const Op> extra) const {
  auto it = byRow_.find({std::string(table), std::string(key)});
  if (it != byRow_.end()) {
    for (std::size_t i : it->second) applyTo(committed, ops_[i]);
    foldedOps_ += it->second.size();
  }
  for (const Op& op : extra) {
    if (op.table == table && op.key == key) applyTo(committed, op);
  }
  return committed;
}

}  // namespace crdtdb
