# scan_lines.cmake: the line scanner shared by the source checks run as `cmake -P` scripts
# (tests/cmake/check_no_core_detail.cmake, examples/docs_snippets/check_vocabulary.cmake).
# Each check is a list of rules, a regular expression that no line may match and why; this
# reports every matching line as "<path>:<line>: <why>: <text>" and counts them.
#
#     include(${CMAKE_CURRENT_LIST_DIR}/scan_lines.cmake)
#     troupe_scan_lines(ROOT ${ROOT} FILES ${files} RULES ${rules} ALLOWED ${allowed} FAILURES failures)
#
# Lines are read with `;` turned into `,` and brackets into parentheses (CMake's lists would split
# or group them otherwise), so rules and ALLOWED entries are written against that text. An ALLOWED
# entry is "<path>:<stripped text>" of a line the check lets pass. No rule or reason may hold `;`.
include_guard(GLOBAL)

function(troupe_scan_lines)
  cmake_parse_arguments(arg "" "ROOT;FAILURES" "FILES;RULES;ALLOWED" ${ARGN})
  list(LENGTH arg_RULES n)
  math(EXPR odd "${n} % 2")
  if(n EQUAL 0 OR odd)
    message(FATAL_ERROR "troupe_scan_lines: RULES must be pairs of <regex> <why>")
  endif()
  math(EXPR last "${n} - 1")
  set(failures 0)
  foreach(file IN LISTS arg_FILES)
    file(RELATIVE_PATH rel ${arg_ROOT} ${file})
    file(READ ${file} text)
    string(REPLACE ";" "," text "${text}")
    string(REPLACE "[" "(" text "${text}")
    string(REPLACE "]" ")" text "${text}")
    string(REPLACE "\n" ";" lines "${text}")
    set(number 0)
    foreach(line IN LISTS lines)
      math(EXPR number "${number} + 1")
      foreach(i RANGE 0 ${last} 2)
        math(EXPR j "${i} + 1")
        list(GET arg_RULES ${i} pattern)
        list(GET arg_RULES ${j} why)
        if(line MATCHES "${pattern}")
          string(STRIP "${line}" stripped)
          if(NOT "${rel}:${stripped}" IN_LIST arg_ALLOWED)
            message("${rel}:${number}: ${why}: ${stripped}")
            math(EXPR failures "${failures} + 1")
          endif()
        endif()
      endforeach()
    endforeach()
  endforeach()
  set(${arg_FAILURES} ${failures} PARENT_SCOPE)
endfunction()
