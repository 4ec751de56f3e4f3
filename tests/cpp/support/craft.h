// Hand-built messages for tests that need histories no honest replica would make in a
// reasonable time (thousands of peers): transactions written straight into a chunk.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/value.h"
#include "oplog/chunk_codec.h"
#include "oplog/frame.h"

namespace crdtdb::testing {

inline Bytes intValue(std::int64_t i) {
  ByteWriter w;
  writeInt(w, i);
  return w.take();
}

inline Bytes stringValue(std::string_view s) {
  ByteWriter w;
  writeString(w, s);
  return w.take();
}

// One chunk of single-op transactions, appended in causal order.
class Crafter {
 public:
  // A transaction of `peer` at `seq` whose op writes `column` of (table, key) — `update`
  // unless `set`. `parents`: (peer, seq) pairs, sorted by (peer id, seq); linear when it
  // is exactly (peer, seq - 1).
  void write(const std::string& peer, Seq seq, std::vector<std::pair<std::string, Seq>> parents,
             const std::string& table, const std::string& key, const std::string& column,
             ValueRef value, OpKind kind = OpKind::UpdateRow) {
    const bool linear =
        parents.size() == 1 && parents[0].first == peer && parents[0].second + 1 == seq;
    std::vector<ParentRef> refs;
    for (auto& [p, s] : parents) refs.push_back({w_.peer(p), s});
    w_.beginTxn(w_.peer(peer), seq, linear, refs, 1);
    w_.op(kind, w_.name(table), key);
    w_.columnCount(1);
    w_.column(w_.name(column), value);
  }
  Bytes message() const {
    ByteWriter out;
    std::size_t f = beginFrame(out, FrameKind::Changes);
    out.varint(1);
    w_.writeTo(out);
    finishFrame(out, f);
    return out.take();
  }

 private:
  ChunkWriter w_;
};

}  // namespace crdtdb::testing
