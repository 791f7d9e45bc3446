/* base/clock: the two clocks. TTLs and cache expiry follow the wall clock (the
 * cache outlives the process); timeouts and RTTs use the monotonic clock. */
#pragma once

#include <stdint.h>

/** Seconds since the epoch (wall clock). */
uint64_t clock_wall_s(void);
/** Milliseconds on the monotonic clock. */
uint64_t clock_mono_ms(void);
