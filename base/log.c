/* base/log: one line per message on stderr, written with a single write(2)
 * so that lines from several worker threads never interleave. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

enum log_level log_threshold = LOG_LEVEL_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void log_write(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "ternd[%d]: %s: ", (int)getpid(), level_names[level]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t rc = write(STDERR_FILENO, line, len);
	(void)rc;
}
