# check_vocabulary.cmake: fails when a public header, a guide or an example drifts from the one
# vocabulary of docs/architecture.md ("One vocabulary") or restates a fact kept in one place.
#
#     cmake -DROOT=<source dir> -P check_vocabulary.cmake
#
# Each rule is a regular expression that no line may match, and why. Run as docs.one_vocabulary.
# Lines are read with `;` turned into `,` and brackets into parentheses (CMake's lists), so the
# rules are written against that text (tests/cmake/scan_lines.cmake, shared with the layer checks).
include(${CMAKE_CURRENT_LIST_DIR}/../../tests/cmake/scan_lines.cmake)
set(rules
  "otp::infinity|wait_forever|otp::inf[^a-z]"
      "no deadline is troupe::infinity (core/timeout.hpp)"
  "nanoseconds::max\\(\\)"
      "no deadline is troupe::infinity, not a literal nanoseconds::max()"
  "\\.(intensity|period) ="
      "restart limits are max_restarts and within"
  "reply_to<.*> from,"
      "a reply handle is a member named reply_to"
  "std::chrono::milliseconds [a-z_]+ *(=|{|,|\\))"
      "a public duration is std::chrono::nanoseconds"
  "after its system is destroyed|does not count mailboxes yet"
      "a stale statement: the fact now lives in one place (docs/core.md, docs/mailboxes.md)")

file(GLOB_RECURSE files ${ROOT}/include/troupe/*.hpp ${ROOT}/docs/*.md ${ROOT}/examples/*.cpp ${ROOT}/README.md)
# Where the constant itself is defined, and the runtime's private headers (not a public API).
list(FILTER files EXCLUDE REGEX "/include/troupe/core/timeout\\.hpp$|/include/troupe/[a-z]+/detail/")
troupe_scan_lines(ROOT ${ROOT} FILES ${files} RULES ${rules} FAILURES failures)
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} line(s) drift from the one vocabulary (docs/architecture.md)")
endif()
message("one vocabulary: ${CMAKE_CURRENT_LIST_FILE} found no drift")
