# check_no_core_detail.cmake: fails when the otp layer names core's private namespace (issue 12).
# otp is built on core's public API only (core/extension.hpp, core/any_ref.hpp), so that a user
# can write a behaviour like otp's without troupe::detail; this keeps it so.
#
#     cmake -DROOT=<source dir> -P check_no_core_detail.cmake
#
# Scans include/troupe/otp/ and src/otp/ under ROOT, every line. otp's own `detail` namespace
# (otp::detail, written `detail::` inside troupe::otp) is otp's business and is not matched.
# `allowed` lists the lines still waiting for a public seam, as "<path>:<text>" (none today):
# add to it only with a reason and an issue, and remove the entry with the last use.
cmake_minimum_required(VERSION 3.20)  # IN_LIST below
# (No `;` in a reason: it would split the list.)
set(rules
  "troupe::detail"
      "names core's detail namespace, use the public seams instead (core/extension.hpp, core/any_ref.hpp)"
  "troupe/core/detail/"
      "includes a private header of core"
  "\\.core\\(\\)"
      "reaches the system's internals (system::core()), use troupe::timers_of(sys) or add a seam")
set(allowed)

file(GLOB_RECURSE files ${ROOT}/include/troupe/otp/*.hpp ${ROOT}/src/otp/*.cpp ${ROOT}/src/otp/*.hpp)
if(NOT files)
  message(FATAL_ERROR "no otp sources under ${ROOT}: wrong ROOT?")
endif()
set(failures 0)
foreach(file IN LISTS files)
  file(RELATIVE_PATH rel ${ROOT} ${file})
  file(STRINGS ${file} lines)
  set(number 0)
  foreach(line IN LISTS lines)
    math(EXPR number "${number} + 1")
    list(LENGTH rules n)
    math(EXPR last "${n} - 1")
    foreach(i RANGE 0 ${last} 2)
      math(EXPR j "${i} + 1")
      list(GET rules ${i} pattern)
      list(GET rules ${j} why)
      if(line MATCHES "${pattern}")
        string(STRIP "${line}" stripped)
        if(NOT "${rel}:${stripped}" IN_LIST allowed)
          message("${rel}:${number}: ${why}: ${stripped}")
          math(EXPR failures "${failures} + 1")
        endif()
      endif()
    endforeach()
  endforeach()
endforeach()
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} line(s) of otp reach into core's detail namespace")
endif()
message("otp uses core's public API only: ${CMAKE_CURRENT_LIST_FILE} found no use of troupe::detail")
