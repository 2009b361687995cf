# check_no_core_detail.cmake: fails when a layer above core names core's private namespace
# (issue 12). Those layers are built on core's public API only (core/extension.hpp,
# core/any_ref.hpp, core/scheduler.hpp), so that a user can write what they do without
# troupe::detail; this keeps them so.
#
#     cmake -DROOT=<source dir> -DLAYER=<layer> -P check_no_core_detail.cmake
#
# Scans include/troupe/<layer>/ and src/<layer>/ under ROOT, every line. The layer's own `detail`
# namespace (written `detail::` inside troupe::<layer>) is its business and is not matched, except
# for the names of core's detail namespace, which an unqualified `detail::` reaches from any
# troupe::<layer> that has no such name of its own. `allowed` lists the lines still waiting for a
# public seam, as "<path>:<text>" (none today): add to it only with a reason and an issue, and
# remove the entry with the last use. tests/CMakeLists.txt lists the layers that pass.
cmake_minimum_required(VERSION 3.20)
include(${CMAKE_CURRENT_LIST_DIR}/scan_lines.cmake)
if(NOT LAYER)
  message(FATAL_ERROR "say which layer: -DLAYER=otp")
endif()
# (No `;` in a reason: it would split the list.)
set(core_names "ref_access|endpoint|endpoint_terminated|describe_endpoint|counted|cell|cell_of|home_of|system_core|envelope|user_envelope|call_envelope|make_user_envelope|reply_slot|function_call|function_endpoint|askable_function_endpoint|past_bound|pool_new|pool_delete|pool_allocate|pool_deallocate|pool_trim|pool_maintain|pool_statistics|instruments|spin_mutex|inbox")
set(rules
  "troupe::detail"
      "names core's detail namespace, use the public seams instead (core/extension.hpp, core/any_ref.hpp)"
  "(^|[^:a-z_])detail::(${core_names})([^a-z_]|$)"
      "names core's detail namespace unqualified (inside troupe::${LAYER} it is troupe::detail)"
  "troupe/core/detail/"
      "includes a private header of core"
  "\\.core\\(\\)"
      "reaches the system's internals (system::core()), use troupe::timers_of(sys) or add a seam")
set(allowed)

file(GLOB_RECURSE files ${ROOT}/include/troupe/${LAYER}/*.hpp ${ROOT}/src/${LAYER}/*.cpp ${ROOT}/src/${LAYER}/*.hpp)
if(NOT files)
  message(FATAL_ERROR "no ${LAYER} sources under ${ROOT}: wrong ROOT or LAYER?")
endif()
troupe_scan_lines(ROOT ${ROOT} FILES ${files} RULES ${rules} ALLOWED ${allowed} FAILURES failures)
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} line(s) of ${LAYER} reach into core's detail namespace")
endif()
message("${LAYER} uses core's public API only: ${CMAKE_CURRENT_LIST_FILE} found no use of troupe::detail")
