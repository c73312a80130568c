# Debian packages: `cpack -G DEB` in the build directory, or `make package`.
#   liblabyrinth2     the shared library (and its shlibs file), LICENSE, CHANGELOG
#   liblabyrinth-dev  header, liblabyrinth.so link, liblabyrinth.a, labyrinth.pc,
#                     the CMake package, the man pages
#   labyrinth-tools   labyrinth-nic-demo, labyrinth-rx, labyrinth-tx, labyrinth-top,
#                     labyrinth-signal-alloc, labyrinth-rt-thread,
#                     labyrinth-xdp-rx, labyrinth-xdp-tx (where built)
#   labyrinth-dkms    labyrinth.ko's sources for DKMS, the kernel-side header (below)
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
# dpkg-shlibdeps computes the programs' Depends from their DT_NEEDED
# (liburing2, libxdp1, libbpf1, libc6, ...).  Our own library is not
# installed while cpack runs: shlibdeps finds it in the build tree
# (PRIVATE_DIRS) without a package to name, so the runtime package is named
# here, exactly.  scripts/check-package.sh checks the result.
set(CPACK_DEBIAN_TOOLS_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_CURRENT_BINARY_DIR})
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${lab_dep}")
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
"page pools that never sleep on their atomic path - example programs
labyrinth-nic-demo (a simulated NIC filling rx rings from a pool),
labyrinth-rx (UDP received through io_uring straight into pool pages),
labyrinth-tx (its verifiable traffic source), labyrinth-xdp-rx and
labyrinth-xdp-tx (AF_XDP with a pool as the UMEM), labyrinth-signal-alloc
(pages allocated in a signal handler), labyrinth-rt-thread (a
SCHED_FIFO thread allocating pages) and labyrinth-top (the pools of
processes started with LABYRINTH_STATS=1, watched from outside).")

# labyrinth-dpdk: the DPDK mempool driver "labyrinth" (liblabyrinth_dpdk),
# <labyrinth_dpdk.h>, its man pages and docs/dpdk.md; only where DPDK was
# found (dpdk/CMakeLists.txt).  dpkg-shlibdeps names the DPDK packages
# (librte-*) and libc6 from its DT_NEEDED, as for the tools.
set(lab_components runtime dev tools)
if(TARGET labyrinth_dpdk)
  list(APPEND CPACK_COMPONENTS_ALL dpdk)
  list(APPEND lab_components dpdk)
  set(CPACK_DEBIAN_DPDK_PACKAGE_NAME labyrinth-dpdk)
  set(CPACK_DEBIAN_DPDK_PACKAGE_SECTION libs)
  set(CPACK_DEBIAN_DPDK_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_DPDK_PACKAGE_DEPENDS "${lab_dep}")
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

# ---- labyrinth-dkms: labyrinth.ko's sources for DKMS (docs/kernel.md) ----
# /usr/src/labyrinth-<version>/: the files kernel/Makefile lists
# (`make -C kernel dkms-files`, the repository's layout) and dkms.conf;
# /usr/include/labyrinth/kernel/: the kernel-side header, for modules that
# use labyrinth.ko.  postinst builds it for the kernels whose headers are
# installed, prerm removes it from DKMS.  scripts/check-dkms.sh checks it.
execute_process(COMMAND make -s --no-print-directory -C ${CMAKE_CURRENT_SOURCE_DIR}/kernel
    KDIR=/nonexistent dkms-files
  OUTPUT_VARIABLE lab_dkms_files OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE lab_dkms_rc)
if(NOT lab_dkms_rc EQUAL 0 OR lab_dkms_files STREQUAL "")
  message(FATAL_ERROR "make -C kernel dkms-files failed: ${lab_dkms_rc}")
endif()
separate_arguments(lab_dkms_files UNIX_COMMAND "${lab_dkms_files}")
set(lab_dkms_tree src/labyrinth-${PROJECT_VERSION}) # under the package's /usr
foreach(f ${lab_dkms_files})
  get_filename_component(dir ${f} DIRECTORY)
  if(f MATCHES "\\.sh$")
    install(PROGRAMS ${f} DESTINATION ${lab_dkms_tree}/${dir} COMPONENT dkms EXCLUDE_FROM_ALL)
  else()
    install(FILES ${f} DESTINATION ${lab_dkms_tree}/${dir} COMPONENT dkms EXCLUDE_FROM_ALL)
  endif()
  if(dir STREQUAL "include")
    install(FILES ${f} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/labyrinth/kernel
      COMPONENT dkms EXCLUDE_FROM_ALL)
  endif()
endforeach()
configure_file(kernel/dkms/dkms.conf.in ${CMAKE_CURRENT_BINARY_DIR}/dkms/dkms.conf @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/dkms/dkms.conf DESTINATION ${lab_dkms_tree}
  COMPONENT dkms EXCLUDE_FROM_ALL)
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/labyrinth-dkms
  RENAME copyright COMPONENT dkms EXCLUDE_FROM_ALL)
# The maintainer scripts must be executable in the package.
foreach(script postinst prerm)
  configure_file(kernel/dkms/${script}.in ${CMAKE_CURRENT_BINARY_DIR}/dkms/in/${script} @ONLY)
  file(COPY ${CMAKE_CURRENT_BINARY_DIR}/dkms/in/${script} DESTINATION ${CMAKE_CURRENT_BINARY_DIR}/dkms
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()
list(APPEND CPACK_COMPONENTS_ALL dkms)
set(CPACK_DEBIAN_DKMS_PACKAGE_NAME labyrinth-dkms)
set(CPACK_DEBIAN_DKMS_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_DKMS_PACKAGE_SECTION kernel)
set(CPACK_DEBIAN_DKMS_PACKAGE_DEPENDS dkms)
set(CPACK_DEBIAN_DKMS_PACKAGE_CONTROL_EXTRA
  ${CMAKE_CURRENT_BINARY_DIR}/dkms/postinst ${CMAKE_CURRENT_BINARY_DIR}/dkms/prerm)
set(CPACK_COMPONENT_DKMS_DESCRIPTION
"page pools that never sleep on their atomic path - kernel module (DKMS)
labyrinth.ko gives drivers the pools of liblabyrinth: pages handed to
exactly one owner from any context but NMI, hard interrupts on PREEMPT_RT
included, without a lock on the atomic path.

This package contains the module's sources, built by DKMS for each kernel
whose headers are installed, and the kernel-side header for modules that
use it; each build keeps its Module.symvers in
/var/lib/dkms/labyrinth/kernel-<release>-<arch>/.")
# ---- end labyrinth-dkms ----

include(CPack)
