// The column value of a text edit op (OpKind::TextEdit): which text, where, and what.
//
//   named (op log, messages): [text peer id, text seq, pos, insert string | delete length]
//   local (commit input):     [pos, insert string | delete length]
//
// A text is named by the event that created it (its TextCreate op); a local edit applies to
// the text its column shows, and the engine writes the named form to the op log. Positions
// and lengths are UTF-16 code units; an insert is a non-empty string, a delete length >= 1.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/bytes.h"
#include "core/ids.h"
#include "core/value.h"

namespace crdtdb {

struct TextEditValue {
  bool named = false;     // the named form (peer and seq are set)
  std::string_view peer;  // the text's creator
  Seq seq = 0;            // ... and its event's seq
  std::uint32_t pos = 0;
  bool insert = false;
  std::string_view content;  // insert: UTF-8 (well-formed: no lone surrogates)
  std::uint32_t len = 0;     // delete
};

// What a text write holds where its read value is not shown (losers, storage): "".
ValueRef emptyStringValue();

// Reads a text edit value, named or local. Throws DecodeError (`wire`) or Error(Type) naming
// what is malformed.
TextEditValue readTextEdit(ValueRef v, bool wire);
// readTextEdit(v, true) of a value that passed scanValue (a decoded message's, or the engine's
// own named form): the same checks of shape and ranges, without validating it again.
TextEditValue readScannedTextEdit(ValueRef v);
// Writes the named form of `e` (for the text created by `peer`'s event `seq`).
void writeTextEdit(std::string_view peer, Seq seq, const TextEditValue& e, ByteWriter& out);
// Writes the local form (tests and callers that build ops).
void writeLocalTextEdit(std::uint32_t pos, bool insert, std::string_view content, std::uint32_t len,
                        ByteWriter& out);

}  // namespace crdtdb
