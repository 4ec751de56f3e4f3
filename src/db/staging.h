// The open staged transaction of db.transaction: ops accumulate (owned), and reads through
// the transaction see the rows as those ops leave them. Staged ops are local writes, which
// observe everything: a set replaces the row, an update replaces the named columns, a delete
// removes the row, so the staged view of a row is a plain fold over the committed row.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "oplog/op.h"

namespace crdtdb {

// A row's columns (sorted by name) as a staged transaction sees it.
struct StagedRow {
  std::vector<std::pair<std::string, Bytes>> columns;
};

class Staging {
 public:
  std::size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  const std::vector<Op>& ops() const { return ops_; }
  void add(std::vector<Op>&& ops);  // strong guarantee
  void swap(Staging& other) noexcept {
    ops_.swap(other.ops_);
    byRow_.swap(other.byRow_);
    folds_.clear();
    other.folds_.clear();
  }
  void clear() noexcept {
    ops_.clear();
    byRow_.clear();
    folds_.clear();
  }
  bool touches(std::string_view table, std::string_view key) const {
    return byRow_.count({std::string(table), std::string(key)}) > 0;
  }
  // Row keys of `table` that staged ops touch.
  std::vector<std::string> keysOf(std::string_view table) const;
  // The row after the staged ops on it, then `extra` (ops not yet staged), from `committed`.
  std::optional<StagedRow> fold(std::string_view table, std::string_view key,
                                std::optional<StagedRow> committed,
                                std::span<const Op> extra = {}) const;
  // The same, remembering the row after the staged ops for as long as `stamp` (which changes
  // whenever the committed row does) stays the same: ops staged one by
  // one then cost one op each to fold, not every staged op of the row again. `committed` is
  // called only when the remembered row cannot be used.
  std::optional<StagedRow> fold(std::string_view table, std::string_view key, std::uint64_t stamp,
                                const std::function<std::optional<StagedRow>()>& committed,
                                std::span<const Op> extra = {}) const;
  static void applyTo(std::optional<StagedRow>& row, const Op& op);
  // Drops the remembered rows (when committed rows change without a new stamp).
  void forgetFolds() const noexcept { folds_.clear(); }
  // Work counter: staged ops folded into rows by fold() (tests pin fold costs with it).
  std::uint64_t foldedOps() const { return foldedOps_; }

 private:
  struct Fold {
    std::uint64_t stamp = 0;
    std::size_t applied = 0;  // staged ops of the row folded into `row`
    std::optional<StagedRow> row;
  };
  std::vector<Op> ops_;
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> byRow_;
  mutable std::map<std::pair<std::string, std::string>, Fold> folds_;
  mutable std::uint64_t foldedOps_ = 0;
};

}  // namespace crdtdb
