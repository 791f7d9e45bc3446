/* fuzz/replay: feeds every file in the directories (or the files) named on the
 * command line to LLVMFuzzerTestOneInput once, so a fuzz target's corpus runs
 * as a plain test in `make check` without libFuzzer (Knot DNS does the same).
 * Each input gets a buffer of exactly its size, so ASan sees any overread. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		fclose(f);
		return -1;
	}
	size_t size = (size_t)st.st_size;
	uint8_t *data = malloc(size ? size : 1);
	if (!data || fread(data, 1, size, f) != size) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 0;
}

static int run_dir(const char *dir, unsigned *n_inputs)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	int ret = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (run_file(path) != 0)
			ret = -1;
		else
			(*n_inputs)++;
	}
	closedir(d);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned n_inputs = 0;
	int ret = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			ret = -1;
		} else if (S_ISDIR(st.st_mode)) {
			if (run_dir(argv[i], &n_inputs) != 0)
				ret = -1;
		} else if (run_file(argv[i]) == 0) {
			n_inputs++;
		} else {
			ret = -1;
		}
	}
	printf("replay: %u inputs\n", n_inputs);
	/* an empty corpus is a broken test setup, not a pass */
	return ret == 0 && n_inputs > 0 ? 0 : 1;
}
