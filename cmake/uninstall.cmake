# `cmake --build build --target uninstall` (or `make uninstall`): undo the
# last `cmake --install` of this build directory, from its manifest.
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/uninstall.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/labyrinth_uninstall.cmake @ONLY)
add_custom_target(uninstall
  COMMAND ${CMAKE_COMMAND} -P ${CMAKE_CURRENT_BINARY_DIR}/labyrinth_uninstall.cmake
  COMMENT "Removing the files of install_manifest.txt")
