# Debian packages: `cpack -G DEB` in the build directory, or `make package`.
#   liblabyrinth0     the shared library (and its shlibs file), LICENSE, CHANGELOG
#   liblabyrinth-dev  header, liblabyrinth.so link, liblabyrinth.a, labyrinth.pc,
#                     the CMake package, the man pages
#   labyrinth-tools   labyrinth-nic-demo, labyrinth-rx, labyrinth-tx
# scripts/check-package.sh builds, installs, uses and removes them (CI).
if(NOT CMAKE_SOURCE_DIR STREQUAL CMAKE_CURRENT_SOURCE_DIR)
  return() # built inside another project (the benchmark): no packages
endif()
set(LAB_PACKAGE_MAINTAINER "labyrinth maintainers <maintainers@users.noreply.b-seed-052a3ae1.example>"
  CACHE STRING "Maintainer field of the Debian packages")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME labyrinth)
set(CPACK_PACKAGE_VENDOR "labyrinth")
set(CPACK_PACKAGE_CONTACT "${LAB_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_CURRENT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/packages)
set(CPACK_STRIP_FILES OFF) # keep the symbols: the library is small

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev tools)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${LAB_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
# The runtime package is named for the soname (Debian policy 8.1).
set(lab_runtime liblabyrinth${LAB_ABI_VERSION})
set(lab_dep "${lab_runtime} (= ${PROJECT_VERSION}-1)")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${lab_runtime})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON) # other packages' shlibdeps find us
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
"page pools that never sleep on their atomic path - shared library
labyrinth hands out pages of a pre-populated, locked pool to exactly one
owner, with an allocation and free path that takes no lock, makes no
system call, takes no page fault and is async-signal-safe: for packet
receive paths, real-time threads, signal handlers, io_uring and AF_XDP
buffer rings.

This package contains the shared library.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME liblabyrinth-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${lab_dep}")
set(CPACK_COMPONENT_DEV_DESCRIPTION
"page pools that never sleep on their atomic path - development files
labyrinth hands out pages of a pre-populated, locked pool to exactly one
owner, lock-free and without system calls on its atomic path.

This package contains the header, the static library, the pkg-config
file, the CMake package and the man pages.")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME labyrinth-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)
# dpkg-shlibdeps cannot see the runtime package before it is installed: name it
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${lab_dep}")
if(TARGET labyrinth-rx)
  set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${lab_dep}, liburing2")
endif()
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
"page pools that never sleep on their atomic path - demonstration programs
labyrinth-nic-demo (a simulated NIC filling rx rings from a pool),
labyrinth-rx (UDP received through io_uring straight into pool pages) and
labyrinth-tx (its verifiable traffic source).")

# labyrinth-dpdk: the DPDK mempool driver "labyrinth" (liblabyrinth_dpdk),
# <labyrinth_dpdk.h>, its man pages and docs/dpdk.md; only where DPDK was
# found (dpdk/CMakeLists.txt), with Depends on the DPDK libraries it links.
set(lab_components runtime dev tools)
if(TARGET labyrinth_dpdk)
  list(APPEND CPACK_COMPONENTS_ALL dpdk)
  list(APPEND lab_components dpdk)
  set(CPACK_DEBIAN_DPDK_PACKAGE_NAME labyrinth-dpdk)
  set(CPACK_DEBIAN_DPDK_PACKAGE_SECTION libs)
  set(CPACK_DEBIAN_DPDK_PACKAGE_DEPENDS "${lab_dep}")
  if(LAB_DPDK_DEB_DEPENDS)
    set(CPACK_DEBIAN_DPDK_PACKAGE_DEPENDS "${lab_dep}, ${LAB_DPDK_DEB_DEPENDS}")
  endif()
  set(CPACK_DEBIAN_DPDK_PACKAGE_SUGGESTS "dpdk-dev, libdpdk-dev")
  set(CPACK_COMPONENT_DPDK_DESCRIPTION
"page pools that never sleep on their atomic path - DPDK mempool driver
liblabyrinth_dpdk registers the DPDK mempool ops \"labyrinth\": load it into
any DPDK program with the EAL option -d and select it with
--mbuf-pool-ops-name labyrinth.  Every mbuf is one labyrinth page and every
free is checked: a double free is refused and counted instead of handing
one buffer to two owners.  <labyrinth_dpdk.h> creates pktmbuf pools on a
labyrinth pool that DPDK knows (AF_XDP).  See
/usr/share/doc/labyrinth-dpdk/dpdk.md.")
endif()

# Debian's place for the licence: /usr/share/doc/<package>/copyright, in
# each package; only in the packages (EXCLUDE_FROM_ALL keeps it out of a
# plain `cmake --install`, which has share/doc/labyrinth/LICENSE).
foreach(comp ${lab_components})
  string(TOUPPER ${comp} COMP)
  install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${CPACK_DEBIAN_${COMP}_PACKAGE_NAME}
    RENAME copyright COMPONENT ${comp} EXCLUDE_FROM_ALL)
endforeach()

include(CPack)
