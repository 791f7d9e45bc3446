/* base/log: leveled logging to stderr.
 * Privacy rule: never pass a query name, a client address or answer data to these
 * macros. There is deliberately no helper here that turns a name into text. */
#pragma once

#include <stdbool.h>

enum log_level { LOG_LEVEL_ERR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

extern enum log_level log_threshold;

void log_write(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)   log_write(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)  do { if (log_threshold >= LOG_LEVEL_WARN) log_write(LOG_LEVEL_WARN, __VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_threshold >= LOG_LEVEL_INFO) log_write(LOG_LEVEL_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_threshold >= LOG_LEVEL_DEBUG) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)

/** "Impossible, but must not crash production": logs file and line, returns @ok. */
#define soft_check(ok) ((ok) ? true : (log_err("soft check failed: %s at %s:%d", #ok, __FILE__, __LINE__), false))
