// Editing traces (github.com/josephg/editing-traces format) as TextColumn operations: shared
// by the trace tests and bench/text_engine.cpp. Reads .json.gz through gzip (native only) or
// plain .json (also under Emscripten's NODERAWFS, for the WASM build of the bench).
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

inline nlohmann::json readGz(const std::filesystem::path& path) {
  std::string text;
  char buf[1 << 16];
  if (path.extension() != ".gz") {
    FILE* f = std::fopen(path.string().c_str(), "rb");
    if (f == nullptr) throw std::runtime_error("cannot open " + path.string());
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    std::fclose(f);
    return nlohmann::json::parse(text);
  }
#ifdef __EMSCRIPTEN__
  throw std::runtime_error("gzip files need the native build: gunzip " + path.string());
#else
  const std::string cmd = "gzip -dc '" + path.string() + "'";
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) throw std::runtime_error("cannot run gzip");
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  if (pclose(f) != 0) throw std::runtime_error("cannot read " + path.string());
  return nlohmann::json::parse(text);
#endif
}

inline std::u16string utf16(const std::string& s) {
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
  struct Entry {  // one edit: an event of its own (events are entry indexes)
    bool insert;
    std::uint32_t pos, len;
    std::u16string content;
    std::vector<LV> parents;  // units
    int agent;
    bool txnEnd;  // the last edit of its transaction
  };
  std::vector<Entry> entries;

  list::TextColumn::AuthorLess authorLess() const {
    // Agents are numbered; compare their names as strings, as peer ids are compared.
    return [this](LV a, LV b) {
      return std::to_string(entries[a].agent) < std::to_string(entries[b].agent);
    };
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
      const int agent = txn["agent"].get<int>();
      const std::size_t before = entries.size();
      for (const auto& patch : txn["patches"]) {
        const auto pos = patch[0].get<std::uint32_t>();
        const auto del = patch[1].get<std::uint32_t>();
        const std::u16string ins = utf16(patch[2].get<std::string>());
        auto add = [&](bool insert, std::uint32_t len, std::u16string content) {
          std::vector<LV> ps = entries.size() > before ? std::vector<LV>{next - 1} : parents;
          entries.push_back({insert, pos, len, std::move(content), std::move(ps), agent, false});
          next += len;
        };
        if (del > 0) add(false, del, {});
        if (!ins.empty()) add(true, static_cast<std::uint32_t>(ins.size()), ins);
      }
      if (entries.size() == before) {  // an empty transaction: children may still name it
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
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const Entry& e = entries[i];
      col.addRemote(static_cast<LV>(i), {e.insert, e.pos, e.len, e.content}, e.parents);
      if (live && e.txnEnd) col.flush(less, nullptr);
    }
    col.flush(less, nullptr);
  }
};

}  // namespace crdtdb::testing
