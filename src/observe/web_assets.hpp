// web_assets.hpp: the web view's page (web/*.html, *.js, *.css), compiled into the library.
// web_assets.cpp is generated at build time by embed_assets.cmake from the files under web/, so
// an installed program serves its page without any file on disk and fetches nothing.
#pragma once

#include "troupe/io/http_route.hpp"

namespace troupe::observe::web {

/// index.html, app.js and style.css with their content types.
io::asset_map page_assets();

}  // namespace troupe::observe::web
