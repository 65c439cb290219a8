/*
 * files.c — which files a query reads: PATH arguments expanded (storage
 * directories walked for *.ipfix, in-progress .NAME.tmp files skipped),
 * selection of collector files by the time in their names, and the
 * parsing of times ("2026-11-22T13:00") and durations ("5m").
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "query/query_internal.h"

#define SLACK_MS (3600ll * 1000) /* files opened up to an hour around the range */

typedef struct list {
    char **items;
    size_t count, capacity;
} list;

static bool list_add(list *l, const char *s) {
    if (l->count == l->capacity) {
        size_t cap = l->capacity ? l->capacity * 2 : 64;
        char **n = realloc(l->items, cap * sizeof *n);
        if (!n) return false;
        l->items = n;
        l->capacity = cap;
    }
    l->items[l->count] = strdup(s);
    if (!l->items[l->count]) return false;
    l->count++;
    return true;
}

void ipfix_query_files_free(char **files, size_t count) {
    for (size_t i = 0; i < count; i++) free(files[i]);
    free(files);
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ms of the time in "ipfix-YYYYMMDDHHMMSS-..." or -1. */
static int64_t name_time(const char *base) {
    if (strncmp(base, "ipfix-", 6) != 0) return -1;
    const char *d = base + 6;
    for (int i = 0; i < 14; i++)
        if (!isdigit((unsigned char)d[i])) return -1;
    struct tm tm = {0};
    char buf[16];
    memcpy(buf, d, 14);
    buf[14] = 0;
    if (sscanf(buf, "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000;
}

static ipfix_status walk(const char *dir, list *out, int depth, ipfix_error *err) {
    if (depth > 16) return IPFIX_OK;
    DIR *d = opendir(dir);
    if (!d) return ipfix_error_set(err, IPFIX_ERR_IO, 0, "cannot read directory", "%s: %s", dir, strerror(errno));
    struct dirent *e;
    ipfix_status st = IPFIX_OK;
    char path[4096];
    while ((e = readdir(d)) && st == IPFIX_OK) {
        if (e->d_name[0] == '.') continue; /* ., .., hidden in-progress .NAME.tmp */
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode)) st = walk(path, out, depth + 1, err);
        else if (S_ISREG(sb.st_mode) && has_suffix(e->d_name, ".ipfix") && !list_add(out, path))
            st = ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
    }
    closedir(d);
    return st;
}

ipfix_status ipfix_query_files(const char *const *paths, size_t path_count, int64_t from_ms,
                               int64_t to_ms, char ***files, size_t *count, ipfix_error *err) {
    list all = {0};
    ipfix_status st = IPFIX_OK;
    *files = NULL;
    *count = 0;
    for (size_t i = 0; i < path_count && st == IPFIX_OK; i++) {
        struct stat sb;
        if (strcmp(paths[i], "-") != 0 && stat(paths[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            list dir = {0};
            st = walk(paths[i], &dir, 0, err);
            if (dir.count) qsort(dir.items, dir.count, sizeof *dir.items, compare_names);
            for (size_t k = 0; k < dir.count && st == IPFIX_OK; k++) {
                const char *base = strrchr(dir.items[k], '/');
                base = base ? base + 1 : dir.items[k];
                int64_t t = name_time(base);
                bool keep = true;
                if (t >= 0 && (from_ms || to_ms)) {
                    if (from_ms && t < from_ms - SLACK_MS) keep = false;
                    if (to_ms && t > to_ms + SLACK_MS) keep = false;
                }
                if (keep && !list_add(&all, dir.items[k]))
                    st = ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
            }
            ipfix_query_files_free(dir.items, dir.count);
        } else if (!list_add(&all, paths[i])) {
            st = ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
        }
    }
    if (st != IPFIX_OK) {
        ipfix_query_files_free(all.items, all.count);
        return st;
    }
    *files = all.items;
    *count = all.count;
    return IPFIX_OK;
}

ipfix_status ipfix_query_parse_time(const char *text, int64_t *ms) {
    if (!text || !*text) return IPFIX_ERR_INVALID_ARG;
    bool digits = true;
    for (const char *c = text; *c; c++)
        if (!isdigit((unsigned char)*c)) digits = false;
    if (digits) {
        if (strlen(text) > 12) return IPFIX_ERR_INVALID_ARG;
        *ms = strtoll(text, NULL, 10) * 1000;
        return IPFIX_OK;
    }
    struct tm tm = {0};
    int year, mon, day, hour = 0, min = 0, n = 0;
    double sec = 0;
    if (sscanf(text, "%4d-%2d-%2d%n", &year, &mon, &day, &n) != 3) return IPFIX_ERR_INVALID_ARG;
    const char *rest = text + n;
    if (*rest == 'T' || *rest == ' ') {
        int m = 0;
        if (sscanf(rest + 1, "%2d:%2d%n", &hour, &min, &m) != 2) return IPFIX_ERR_INVALID_ARG;
        rest += 1 + m;
        if (*rest == ':') {
            char *end;
            sec = strtod(rest + 1, &end);
            if (end == rest + 1) return IPFIX_ERR_INVALID_ARG;
            rest = end;
        }
    }
    if (*rest == 'Z') rest++;
    if (*rest) return IPFIX_ERR_INVALID_ARG;
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec < 0 || sec >= 61)
        return IPFIX_ERR_INVALID_ARG;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    *ms = (int64_t)timegm(&tm) * 1000 + (int64_t)(sec * 1000 + 0.5);
    return IPFIX_OK;
}

ipfix_status ipfix_query_parse_duration(const char *text, uint64_t *ms) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || v <= 0) return IPFIX_ERR_INVALID_ARG;
    double scale = 1000;
    if (strcmp(end, "ms") == 0) scale = 1;
    else if (!*end || strcmp(end, "s") == 0) scale = 1000;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0) scale = 60000;
    else if (strcmp(end, "h") == 0) scale = 3600000;
    else if (strcmp(end, "d") == 0) scale = 86400000;
    else return IPFIX_ERR_INVALID_ARG;
    double r = v * scale;
    if (r < 1 || r > 1e15) return IPFIX_ERR_INVALID_ARG;
    *ms = (uint64_t)r;
    return IPFIX_OK;
}
