# The core (every file of src/ but the platform file) must compile with no
# libc at all: the kernel port and any other host provide only
# src/platform.h.  Each core file is compiled once more with -ffreestanding
# -nostdinc and only the compiler's own headers (stddef.h, stdint.h,
# stdbool.h, stdarg.h) on the include path, so an #include of a libc or
# system header fails the build.  The library depends on it: `make`,
# `make test` and CI all run the check.
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=include
  OUTPUT_VARIABLE LAB_CC_INCLUDE OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT IS_DIRECTORY "${LAB_CC_INCLUDE}" OR NOT EXISTS "${LAB_CC_INCLUDE}/stddef.h")
  message(FATAL_ERROR "labyrinth: cannot find ${CMAKE_C_COMPILER}'s own include "
                      "directory (-print-file-name=include gave '${LAB_CC_INCLUDE}')")
endif()
set(LAB_CORE_SOURCES ${LAB_SOURCES})
list(FILTER LAB_CORE_SOURCES EXCLUDE REGEX "platform_linux\\.c$")
add_library(labyrinth_freestanding OBJECT ${LAB_CORE_SOURCES})
target_compile_definitions(labyrinth_freestanding PRIVATE LAB_BUILDING_LIBRARY)
# No include_directories from the targets: only these three directories.
target_compile_options(labyrinth_freestanding PRIVATE
  -ffreestanding -nostdinc -isystem ${LAB_CC_INCLUDE}
  -I${CMAKE_CURRENT_SOURCE_DIR}/include -I${CMAKE_CURRENT_SOURCE_DIR}/src)
# clang-tidy reads the library's own commands, not these (gcc's headers)
set_target_properties(labyrinth_freestanding PROPERTIES EXPORT_COMPILE_COMMANDS OFF)
add_dependencies(labyrinth labyrinth_freestanding)
add_dependencies(labyrinth_static labyrinth_freestanding)
