# check_umbrella.cmake: passes if include/troupe/<LAYER>.hpp exists and includes every public
# header of include/troupe/<LAYER>/ (those under detail/ are not public), so a user who includes
# a layer's umbrella gets all of it, and a header added later cannot be forgotten there.
#   cmake -DINCLUDE=<include dir> -DLAYER=<layer> -P check_umbrella.cmake
foreach(var INCLUDE LAYER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_umbrella.cmake: ${var} is not set")
  endif()
endforeach()

set(umbrella ${INCLUDE}/troupe/${LAYER}.hpp)
if(NOT EXISTS ${umbrella})
  message(FATAL_ERROR "the layer ${LAYER} has no umbrella header: add include/troupe/${LAYER}.hpp, "
                      "which includes each header of include/troupe/${LAYER}/ (see troupe/otp.hpp)")
endif()
file(READ ${umbrella} text)
file(GLOB headers RELATIVE ${INCLUDE} ${INCLUDE}/troupe/${LAYER}/*.hpp)
list(SORT headers)
set(missing)
foreach(h IN LISTS headers)
  string(FIND "${text}" "#include \"${h}\"" at)
  if(at EQUAL -1)
    list(APPEND missing ${h})
  endif()
endforeach()
if(missing)
  list(JOIN missing "\n  " missing_lines)
  message(FATAL_ERROR "include/troupe/${LAYER}.hpp does not include:\n  ${missing_lines}")
endif()
list(LENGTH headers n)
message(STATUS "include/troupe/${LAYER}.hpp includes all ${n} public headers of its layer")
