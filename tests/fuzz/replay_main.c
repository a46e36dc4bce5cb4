/* Replay driver: feeds every file of the directories (or files) given on the command line to the
 * harness's LLVMFuzzerTestOneInput(), in name order, so that the seed corpus and every input that
 * once failed run in the normal build (gcc, no libFuzzer) as a ctest. A broken property aborts. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        if (f) fclose(f);
        return 1;
    }
    /* An exact-size heap copy: a read past the input's end is then an ASan report here too. */
    buf = malloc(n ? (size_t)n : 1);
    if (!buf || (n && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        fclose(f);
        free(buf);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    unsigned files = 0;
    int bad = 0;
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        DIR *d;
        struct dirent *de;
        char **names = NULL;
        size_t n = 0, cap = 0;
        if (stat(argv[i], &st) != 0) continue; /* a regression dir may not exist yet */
        if (!S_ISDIR(st.st_mode)) {
            bad |= run_file(argv[i]);
            files++;
            continue;
        }
        if (!(d = opendir(argv[i]))) return 1;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.') continue;
            if (n == cap && !(names = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names))) return 1;
            names[n] = malloc(strlen(argv[i]) + strlen(de->d_name) + 2);
            if (!names[n]) return 1;
            sprintf(names[n], "%s/%s", argv[i], de->d_name);
            n++;
        }
        closedir(d);
        qsort(names, n, sizeof *names, cmp);
        for (size_t j = 0; j < n; j++) {
            bad |= run_file(names[j]);
            files++;
            free(names[j]);
        }
        free(names);
    }
    printf("replay: %u inputs%s\n", files, bad ? ", some unreadable" : ", no property broken");
    return bad;
}
