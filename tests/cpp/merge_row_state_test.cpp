#include <catch2/catch.hpp>

#include "core/errors.h"
#include "merge/row_state.h"

using namespace crdtdb;

namespace {

struct Fixture {
  PeerTable peers;
  PeerIdx a = peers.intern("alice");
  PeerIdx b = peers.intern("bob");
  RowState row;
  LV next = 0;

  Op op(OpKind kind, std::vector<std::pair<std::string, Value>> cols = {}) {
    return Op{kind, "t", "k", std::move(cols)};
  }
  // Applies an op whose causal past is exactly `seen`.
  LV apply(const Op& o, PeerIdx peer, Lamport lamport, std::vector<LV> seen) {
    LV lv = next++;
    row.apply(
        o, Stamp{lv, lamport, peer, lv},
        [&](LV x) { return std::find(seen.begin(), seen.end(), x) != seen.end(); }, peers);
    row.checkInvariants(peers);
    return lv;
  }
};

}  // namespace

TEST_CASE("set, update and delete in causal order", "[merge]") {
  Fixture f;
  LV s = f.apply(f.op(OpKind::SetRow, {{"x", 1}, {"y", 2}}), f.a, 1, {});
  REQUIRE(f.row.materialize() == Value({{"x", 1}, {"y", 2}}));
  LV u = f.apply(f.op(OpKind::UpdateRow, {{"x", 5}}), f.a, 2, {s});
  REQUIRE(f.row.materialize() == Value({{"x", 5}, {"y", 2}}));
  f.apply(f.op(OpKind::SetRow, {{"z", 0}}), f.a, 3, {s, u});  // set drops unnamed columns
  REQUIRE(f.row.materialize() == Value({{"z", 0}}));
  f.apply(f.op(OpKind::DeleteRow), f.a, 4, {0, 1, 2});
  REQUIRE_FALSE(f.row.materialize().has_value());
  REQUIRE(f.row.empty());
}

TEST_CASE("concurrent writes: greatest (Lamport, peer id) wins, losers are conflicts", "[merge]") {
  Fixture f;
  LV s = f.apply(f.op(OpKind::SetRow, {{"x", 0}}), f.a, 1, {});
  f.apply(f.op(OpKind::UpdateRow, {{"x", "from-alice"}}), f.a, 2, {s});
  f.apply(f.op(OpKind::UpdateRow, {{"x", "from-bob"}}), f.b, 2, {s});
  REQUIRE(f.row.materialize() == Value({{"x", "from-bob"}}));  // same Lamport: "bob" > "alice"
  REQUIRE(f.row.conflicts() == Value({{"x", {"from-alice"}}}));
  // A write that saw both resolves the conflict.
  f.apply(f.op(OpKind::UpdateRow, {{"x", "merged"}}), f.a, 3, {0, 1, 2});
  REQUIRE(f.row.materialize() == Value({{"x", "merged"}}));
  REQUIRE(f.row.conflicts() == Value::object());
}

TEST_CASE("a higher Lamport time wins over peer order", "[merge]") {
  Fixture f;
  LV s = f.apply(f.op(OpKind::SetRow, {{"x", 0}}), f.b, 1, {});
  f.apply(f.op(OpKind::UpdateRow, {{"x", "bob"}}), f.b, 2, {s});
  f.apply(f.op(OpKind::UpdateRow, {{"x", "alice"}}), f.a, 5, {s});
  REQUIRE(f.row.materialize() == Value({{"x", "alice"}}));
}

TEST_CASE("set concurrent with delete resurrects the row", "[merge]") {
  Fixture f;
  LV s = f.apply(f.op(OpKind::SetRow, {{"x", 1}, {"y", 1}}), f.a, 1, {});
  f.apply(f.op(OpKind::DeleteRow), f.a, 2, {s});
  f.apply(f.op(OpKind::SetRow, {{"x", 2}}), f.b, 2, {s});
  REQUIRE(f.row.materialize() == Value({{"x", 2}}));
}

TEST_CASE("update concurrent with delete is lost with the row", "[merge]") {
  Fixture f;
  LV s = f.apply(f.op(OpKind::SetRow, {{"x", 1}}), f.a, 1, {});
  f.apply(f.op(OpKind::UpdateRow, {{"x", 9}}), f.b, 2, {s});
  f.apply(f.op(OpKind::DeleteRow), f.a, 2, {s});
  REQUIRE_FALSE(f.row.materialize().has_value());
  REQUIRE(f.row.conflicts() == Value::object());
}

TEST_CASE("delete removes only what it observed", "[merge]") {
  Fixture f;
  LV s = f.apply(f.op(OpKind::SetRow, {{"x", 1}}), f.a, 1, {});
  // bob sets concurrently; alice's delete has only seen her own set.
  f.apply(f.op(OpKind::SetRow, {{"y", 2}}), f.b, 1, {});
  f.apply(f.op(OpKind::DeleteRow), f.a, 2, {s});
  REQUIRE(f.row.materialize() == Value({{"y", 2}}));
}

TEST_CASE("row state encoding is canonical across application orders", "[merge]") {
  // Two replicas apply the same three concurrent writes in different orders.
  auto build = [](bool reversed) {
    Fixture f;
    std::vector<std::pair<PeerIdx, Value>> writes = {{f.a, 1}, {f.b, 2}};
    if (reversed) std::swap(writes[0], writes[1]);
    for (auto& [peer, val] : writes) {
      f.row.apply(
          Op{OpKind::SetRow, "t", "k", {{"x", val}}}, Stamp{f.next++, 1, peer, 0},
          [](LV) { return false; }, f.peers);
    }
    ByteWriter w;
    f.row.encode(w, f.peers);
    return w.take();
  };
  REQUIRE(build(false) == build(true));
}
