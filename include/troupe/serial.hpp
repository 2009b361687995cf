// serial.hpp: the serial layer in one include: plain message structs to bytes and back (field by
// field, Boost.PFR), schema fingerprints, the registry that is the allow-list of protocols, the
// codec customization point and the ref context the remote layer implements.
// Every public header of include/troupe/serial/ is here (a test checks it); headers compile in
// any order, so this is a convenience, never a requirement. Link troupe::serial.
#pragma once

#include "troupe/serial/codec.hpp"
#include "troupe/serial/decode_limits.hpp"
#include "troupe/serial/errc.hpp"
#include "troupe/serial/protocol_ops.hpp"
#include "troupe/serial/reader.hpp"
#include "troupe/serial/ref_context.hpp"
#include "troupe/serial/registry.hpp"
#include "troupe/serial/type_name.hpp"
#include "troupe/serial/writer.hpp"
