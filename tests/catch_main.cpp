// Catch2 main, compiled once and cached by make (it is slow to build).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
