// remote.hpp: the remote layer in one include: nodes (listen, connect, authenticated handshake,
// heartbeats), remote refs with the same tell and ask as local ones, publish and lookup, and the
// layer's errors. Every public header of include/troupe/remote/ is here (a test checks it);
// headers compile in any order, so this is a convenience, never a requirement. Link troupe::remote.
#pragma once

#include "troupe/remote/errc.hpp"
#include "troupe/remote/node.hpp"
