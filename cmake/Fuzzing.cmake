# CRMSYNC_FUZZ=ON: the libFuzzer build of tests/fuzz (docs/reliability.md). Clang only (libFuzzer
# ships with Debian's clang-14 and libclang-rt-14-dev). Every project library is instrumented for
# coverage (fuzzer-no-link) and checked by AddressSanitizer and UndefinedBehaviorSanitizer; the
# fuzz targets link libFuzzer's main. deploy/dev/fuzz configures this in build-fuzz/ as a Debug
# build at -O1, so that assert() (RapidJSON's checks among them) stays on. The default gcc build
# never includes this file.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "CRMSYNC_FUZZ needs clang (libFuzzer); configure with -DCMAKE_CXX_COMPILER=clang++-14 "
                      "(deploy/dev/fuzz does)")
endif()
set(CRMSYNC_FUZZ_SANITIZERS "address,undefined")
# Undefined behaviour stops the run, except pointer overflow, which is recoverable so that the one
# known case in RapidJSON can be suppressed at run time (tests/sanitizers/ubsan.supp; deploy/dev/fuzz
# sets halt_on_error=1, so every other pointer overflow still stops it).
add_compile_options(-O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,${CRMSYNC_FUZZ_SANITIZERS}
                    -fno-sanitize-recover=undefined -fsanitize-recover=pointer-overflow)
# RapidJSON's member iterators declare == and != in a way C++20 calls ambiguous when reversed;
# clang warns at every use in our code (gcc does not). The comparison is right; silence it here.
add_compile_options(-Wno-ambiguous-reversed-operator)
add_link_options(-fsanitize=${CRMSYNC_FUZZ_SANITIZERS})
