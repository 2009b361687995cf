// registry.cpp: the registry's non-template half and its error texts.
#include "troupe/serial/registry.hpp"

#include <string>

namespace troupe::serial {

result<void> registry::add(const protocol_ops& protocol) {
  auto [it, added] = protocols_.emplace(protocol.fingerprint, &protocol);
  if (added || it->second == &protocol) return {};
  return troupe::error{make_error_code(errc::duplicate_type_id),
                       std::string(protocol.name) + " has the same messages as the registered protocol " +
                           std::string(it->second->name)};
}

result<envelope_ptr> registry::decode_envelope(std::uint64_t protocol_fingerprint, reader& in) const {
  const protocol_ops* protocol = find(protocol_fingerprint);
  if (!protocol)
    return troupe::error{make_error_code(errc::not_registered),
                         "no registered protocol has fingerprint " + detail::hex(protocol_fingerprint)};
  envelope_ptr e{protocol->decode_envelope_raw(in), envelope_deleter{protocol}};
  if (!e) return annotate(in.error(), protocol->name);
  return e;
}

troupe::error registry::not_registered(std::string_view protocol) {
  return troupe::error{make_error_code(errc::not_registered),
                       "protocol " + std::string(protocol) + " is not in this registry (register it with add<P>())"};
}

troupe::error registry::annotate(const troupe::error& e, std::string_view protocol) {
  return troupe::error{e.code(), "decoding " + std::string(protocol) + ": " + e.context()};
}

troupe::error registry::trailing(std::string_view protocol, std::size_t left) {
  return troupe::error{make_error_code(errc::trailing_bytes),
                       "decoding " + std::string(protocol) + ": " + std::to_string(left) +
                           " byte(s) left after the message"};
}

}  // namespace troupe::serial
