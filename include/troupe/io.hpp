// io.hpp: the io layer in one include: the io service, TCP and TLS listeners and connections as
// actors, codecs (framing) and io's error codes. Boost.Asio and OpenSSL stay behind troupe::io's
// sources: none of their headers comes in through this one.
// Every public header of include/troupe/io/ is here (a test checks it); headers compile in any
// order, so this is a convenience, never a requirement. Link troupe::io.
#pragma once

#include "troupe/io/codec.hpp"
#include "troupe/io/connect.hpp"
#include "troupe/io/connection.hpp"
#include "troupe/io/error.hpp"
#include "troupe/io/http_listener.hpp"
#include "troupe/io/http_message.hpp"
#include "troupe/io/http_route.hpp"
#include "troupe/io/http_stream.hpp"
#include "troupe/io/io_service.hpp"
#include "troupe/io/listener.hpp"
#include "troupe/io/tls.hpp"
#include "troupe/io/websocket.hpp"
