# lab_check_test_labels(): every test of the calling directory carries one of
# the four labels, so `ctest -L unit|misuse|stress|e2e` together run them all.
# (get_test_property sees only the current directory's tests before CMake
# 3.28: each directory with tests calls this at its end.)
function(lab_check_test_labels)
  get_property(lab_tests DIRECTORY PROPERTY TESTS)
  foreach(t ${lab_tests})
    get_test_property(${t} LABELS lab_labels)
    if(NOT lab_labels MATCHES "^(unit|misuse|stress|e2e)$")
      message(FATAL_ERROR "labyrinth: test ${t} needs LABELS unit, misuse, stress or e2e "
                          "(set_tests_properties(${t} PROPERTIES LABELS ...))")
    endif()
  endforeach()
endfunction()
