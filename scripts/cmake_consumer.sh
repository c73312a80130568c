# cmake_consumer.sh - sourced by check-install.sh and check-package.sh:
# cmake_consumer DIR [PREFIX] builds the README's usage example in DIR as a
# CMake project that does find_package(labyrinth 0.2) (under PREFIX, else
# where CMake looks by default) and runs it.  Needs $src and fail().
cmake_consumer() {
	dir=$1
	rm -rf "$dir" && mkdir -p "$dir"
	cat >"$dir/CMakeLists.txt" <<-EOC
	cmake_minimum_required(VERSION 3.16)
	project(app C)
	find_package(labyrinth 0.2 REQUIRED)
	add_executable(app "$src/examples/usage.c")
	target_link_libraries(app PRIVATE labyrinth::labyrinth)
	EOC
	cmake -S "$dir" -B "$dir/b" ${2:+-DCMAKE_PREFIX_PATH="$2"} >/dev/null ||
		fail "find_package(labyrinth)${2:+ with CMAKE_PREFIX_PATH=$2}"
	cmake --build "$dir/b" >/dev/null || fail "building against the CMake package"
	env -u LD_LIBRARY_PATH "$dir/b/app" >/dev/null || fail "the CMake-built usage example exited with $?"
}
