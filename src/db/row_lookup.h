// The column lookup of a row as it is now (what index upkeep and storage entries read).
#pragma once

#include "store/index_set.h"
#include "store/row_store.h"

namespace crdtdb {

// `rows` and `r` must outlive the lookup.
inline ColumnLookup lookupIn(const RowStore& rows, const Row& r) {
  return [&rows, &r](std::string_view name) -> std::optional<ValueRef> {
    const Cell* c = rows.cell(r, name);
    return c ? std::optional<ValueRef>(c->value()) : std::nullopt;
  };
}

}  // namespace crdtdb
