/* fuzz/fuzz: what every fuzz target shares. */
#ifndef TERN_FUZZ_H
#define TERN_FUZZ_H

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a crash, for libFuzzer and for the corpus replay alike. */
#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

#endif
