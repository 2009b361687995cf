// postgres_connect.cpp: libpq connections with bounded network waits (postgres_connect.hpp).
#include "troupe/persistence/detail/postgres_connect.hpp"

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

namespace troupe::persistence::detail {

pg_conn* postgres_connect(const std::string& conninfo) {
  // PQconnectdbParams applies its keywords in order and the last one wins, and with
  // expand_dbname a `dbname` holding a conninfo or URI is expanded in its place: so the defaults
  // go first and the caller's conninfo last, overriding any of them.
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> defaults(
      PQconninfoParse(postgres_connection_defaults, nullptr), &PQconninfoFree);
  std::vector<const char*> keys, values;
  for (auto* o = defaults.get(); o != nullptr && o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    keys.push_back(o->keyword);
    values.push_back(o->val);
  }
  keys.push_back("dbname");
  values.push_back(conninfo.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  return PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
}

}  // namespace troupe::persistence::detail
