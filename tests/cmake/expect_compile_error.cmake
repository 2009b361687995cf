# expect_compile_error.cmake: passes only if SOURCE, compiled with MACRO defined, is rejected by
# the compiler AND the diagnostics match both EXPECT and EXPECT_ALSO (CMake regexes), so that an
# unrelated error (a typo, a missing include) fails the test instead of passing it.
#   cmake -DCOMPILER=... -DINCLUDE=... -DSOURCE=... -DMACRO=... -DEXPECT=... -DEXPECT_ALSO=...
#         -P expect_compile_error.cmake
foreach(var COMPILER INCLUDE SOURCE MACRO EXPECT EXPECT_ALSO)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "expect_compile_error.cmake: ${var} is not set")
  endif()
endforeach()

execute_process(
  COMMAND ${COMPILER} -std=c++20 -fsyntax-only -I${INCLUDE} -D${MACRO} ${SOURCE}
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE out)

if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled with ${MACRO}, but that mistake must not compile")
endif()
foreach(regex "${EXPECT}" "${EXPECT_ALSO}")
  if(NOT out MATCHES "${regex}")
    message(FATAL_ERROR "${SOURCE} with ${MACRO} failed to compile, but its diagnostics do not "
                        "match /${regex}/. The compiler said:\n${out}")
  endif()
endforeach()
message(STATUS "rejected as expected: /${EXPECT}/ and /${EXPECT_ALSO}/ matched")
