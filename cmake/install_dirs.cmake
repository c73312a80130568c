# Included before the first install() rule: a full install first records
# which of its directories do not exist yet (build/install_created_dirs.txt),
# so that `make uninstall` can remove them again once they are empty.
set(LAB_INSTALL_DIRS ${CMAKE_INSTALL_BINDIR} ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  ${CMAKE_INSTALL_LIBDIR}/cmake/labyrinth ${CMAKE_INSTALL_INCLUDEDIR}
  ${CMAKE_INSTALL_MANDIR}/man1 ${CMAKE_INSTALL_MANDIR}/man3 ${CMAKE_INSTALL_MANDIR}/man7
  ${CMAKE_INSTALL_DOCDIR}
  ${CMAKE_INSTALL_DATAROOTDIR}/doc/labyrinth-dpdk) # dpdk/, where DPDK is found
configure_file(${CMAKE_CURRENT_LIST_DIR}/install_dirs.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/labyrinth_install_dirs.cmake @ONLY)
install(SCRIPT ${CMAKE_CURRENT_BINARY_DIR}/labyrinth_install_dirs.cmake)
