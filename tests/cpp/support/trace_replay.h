// Editing traces (github.com/josephg/editing-traces format) as TextColumn operations: shared
// by the trace tests and bench/text_engine.cpp. Reads .json.gz through gzip (native only).
#pragma once

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "merge/list/text_column.h"

namespace crdtdb::testing {

nlohmann::json readGz(const std::filesystem::path& path) {
  const std::string cmd = "gzip -dc '" + path.string() + "'";
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) throw std::runtime_error("cannot run gzip");
  std::string text;
  char buf[1 << 16];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  if (pclose(f) != 0) throw std::runtime_error("cannot read " + path.string());
  return nlohmann::json::parse(text);
}

std::u16string utf16(const std::string& s) {
  std::u16string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    char32_t cp;
    int n;
    if (c < 0x80) {
      cp = c, n = 1;
    } else if (c < 0xe0) {
      cp = c & 0x1f, n = 2;
    } else if (c < 0xf0) {
      cp = c & 0x0f, n = 3;
    } else {
      cp = c & 0x07, n = 4;
    }
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    i += n;
    if (cp >= 0x10000) {
      out.push_back(static_cast<char16_t>(0xd800 + ((cp - 0x10000) >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + ((cp - 0x10000) & 0x3ff)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

// A trace as operations (ASCII content: code point positions are UTF-16 positions).
struct TraceOps {
  struct Entry {
    list::ListOp op;
    std::u16string content;
    std::vector<LV> parents;
    bool txnEnd;  // the last operation of its transaction
  };
  std::vector<Entry> entries;
  std::vector<std::pair<LV, int>> agentRuns;  // (first LV, agent), ascending

  std::string agentName(LV lv) const {
    auto it = std::upper_bound(agentRuns.begin(), agentRuns.end(), lv,
                               [](LV v, const auto& r) { return v < r.first; });
    return "agent-" + std::to_string((it - 1)->second);
  }
  list::TextColumn::AuthorLess authorLess() const {
    return [this](LV a, LV b) { return agentName(a) < agentName(b); };
  }

  explicit TraceOps(const nlohmann::json& trace) {
    std::vector<std::vector<LV>> txnVersion;  // the version after each transaction
    LV next = 0;
    for (const auto& txn : trace["txns"]) {
      std::vector<LV> parents;
      for (const auto& p : txn["parents"]) {
        const auto& v = txnVersion.at(p.get<std::size_t>());
        parents.insert(parents.end(), v.begin(), v.end());
      }
      std::sort(parents.begin(), parents.end());
      parents.erase(std::unique(parents.begin(), parents.end()), parents.end());
      agentRuns.emplace_back(next, txn["agent"].get<int>());
      const std::size_t before = entries.size();
      for (const auto& patch : txn["patches"]) {
        const auto pos = patch[0].get<std::uint32_t>();
        const auto del = patch[1].get<std::uint32_t>();
        const std::u16string ins = utf16(patch[2].get<std::string>());
        auto add = [&](const list::ListOp& op, std::u16string content) {
          std::vector<LV> ps = entries.size() > before ? std::vector<LV>{op.start - 1} : parents;
          entries.push_back({op, std::move(content), std::move(ps), false});
          next += op.len;
        };
        if (del > 0) add({next, del, list::ListOp::Delete, true, pos, 0}, {});
        if (!ins.empty()) {
          add({next, static_cast<std::uint32_t>(ins.size()), list::ListOp::Insert, true, pos, 0},
              ins);
        }
      }
      if (entries.size() == before) {  // an empty transaction: children may still name it
        agentRuns.pop_back();
        txnVersion.push_back(parents);
        continue;
      }
      entries.back().txnEnd = true;
      txnVersion.push_back({next - 1});
    }
  }

  // Adds every operation to `col`, flushing after each transaction when `live` (as they
  // would arrive one by one) or once at the end (a cold merge of the whole history).
  void replay(list::TextColumn& col, bool live) const {
    const auto less = authorLess();
    for (const Entry& e : entries) {
      col.addRemote(e.op, e.content, e.parents);
      if (live && e.txnEnd) col.flush(less, nullptr);
    }
    col.flush(less, nullptr);
  }
};

}  // namespace crdtdb::testing
