/*
 * store.c — the collector's embedded store: each worker writes its own
 * stream of IPFIX Files (RFC 5655), rotated on wall-clock period boundaries
 * (default 300 s, like nfcapd), named so that names sort by time:
 *
 *     DIR/2026/11/22/ipfix-20261122130512-w0.ipfix
 *     (YYYY/MM/DD/ipfix-<UTC open time>-w<worker>.ipfix)
 *
 * A file is written as "DIR/.../.<name>.tmp", fsynced, renamed to its final
 * name and the directory fsynced, so a crash never leaves a partial file
 * under a final name (RFC 5655 §10.1 is about detecting such files; we avoid
 * them). Only whole messages are ever written to a file. At start-up
 * collect_store_recover() cuts temporary files left by a crash after their
 * last complete message and gives them their final name: they are
 * self-contained because every domain's exporter map and templates precede
 * its data.
 *
 * Storage design. One RFC 5655 file is one notional Transport Session, but a
 * collector file holds many exporters whose Observation Domain IDs and
 * Template IDs clash. Every (exporter Transport Session, exporter ODID) gets
 * its own FILE-LOCAL ODID (1, 2, ... in order of first appearance in the
 * file), and every (exporter Transport Session, ODID, Template ID) its own
 * FILE-UNIQUE Template ID (256, 257, ...; unique across all domains of the
 * file, although RFC 7011 §8 scopes IDs per domain, because some readers —
 * libfixbuf's ipfixDump among them — mix up equal IDs of different domains).
 * Messages are stored as received except for the header's ODID, the Set IDs
 * of data sets and the Template IDs in template/withdrawal records, so
 * records keep their original templates (field specifiers) and values byte
 * for byte. To make the file self-contained (RFC 5655 §7.2, templates before
 * data) the first message of a domain in each file is preceded by a message
 * carrying every template the exporter's session currently holds for that
 * domain. Data sets whose template the collector does not know are left out
 * of the stored copy (they are counted as missing-template sets) so the file
 * decodes cleanly; over UDP they are held by the session and, when the
 * template arrives, exporter.c stores their records in a message of their
 * own after the one carrying the template. A file that runs out of Template
 * IDs is rotated early.
 *
 * Exporter attribution lives in the file itself: domain 0 (reserved) holds
 * an Options Template per address family (IDs 256: IPv4, 257: IPv6) and, for
 * every file-local ODID, one options record mapping it to the exporter
 * (an RFC 5655 §8.1.3-style Export Session Details record, one per
 * Transport Session and domain, cf. §8.1.4's multi-session case):
 *
 *     scope observationDomainId (149)        the file-local ODID
 *     exporterIPv4Address (130) | exporterIPv6Address (131)
 *     exporterTransportPort (217)
 *     protocolIdentifier (4)                 6 TCP, 17 UDP
 *     originalObservationDomainId (405)      the exporter's own ODID
 *     collectionTimeMilliseconds (258)       when the Transport Session began
 *
 * written before the first message of that domain, so `ipfix dump` shows
 * the mapping and then each record's odid=N. A reader resolves odid N with
 * the domain-0 options record whose scope is N. The map templates use IDs
 * 65280 and 65281, which exporter templates never get in a file.
 */
#include "collect/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipfixkit/reader.h"
#include "ipfixkit/template.h"

#define STORE_BUFFER (4u << 20)          /* a worker's store */
#define STORE_BUFFER_SMALL (256u << 10)   /* one exporter's store (--per-exporter) */
#define STORE_PATH_MAX 4096
#define STORE_MAX_MESSAGE 65535u

struct collect_store {
    char *dir;
    unsigned rotate_seconds;
    char tag[32];                 /* file name suffix: "w0" (worker), "udp5000" */
    size_t capacity;              /* of buffer */
    collect_store_closer *closer; /* completes finished files; NULL: here */
    bool fsync;
    int fd;                       /* -1: no file open */
    time_t opened;                /* open time of the current file */
    time_t period_end;            /* rotate at or after this */
    uint64_t generation;          /* incremented per file */
    uint32_t next_local_odid;
    uint32_t next_template_id;    /* file-unique Template IDs handed out */
    uint32_t meta_sequence;       /* records in domain 0 so far */
    bool meta_templates_written;
    char temp_path[STORE_PATH_MAX];
    char final_path[STORE_PATH_MAX];
    char last_path[STORE_PATH_MAX];
    uint8_t *buffer;
    size_t length;
    collect_store_stats stats;
};

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v) {
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static ipfix_status io_error(ipfix_error *err, const char *what, const char *path) {
    return ipfix_error_set(err, IPFIX_ERR_IO, 0, "store: file could not be written",
                           "%s %.60s: %s", what, path, strerror(errno));
}

size_t collect_store_file_name(char *out, size_t size, time_t t, const char *tag) {
    struct tm tm;
    gmtime_r(&t, &tm);
    int n = snprintf(out, size, "%04d/%02d/%02d/ipfix-%04d%02d%02d%02d%02d%02d-%s.ipfix",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tag);
    return (n < 0 || (size_t)n >= size) ? 0 : (size_t)n;
}

collect_store *collect_store_new(const char *dir, unsigned rotate_seconds, const char *tag,
                                 bool fsync, bool small, collect_store_closer *closer) {
    collect_store *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->dir = strdup(dir);
    s->capacity = small ? STORE_BUFFER_SMALL : STORE_BUFFER;
    s->buffer = malloc(s->capacity);
    if (!s->dir || !s->buffer) {
        free(s->dir);
        free(s->buffer);
        free(s);
        return NULL;
    }
    s->rotate_seconds = rotate_seconds ? rotate_seconds : 300;
    snprintf(s->tag, sizeof s->tag, "%s", tag);
    s->fsync = fsync;
    s->fd = -1;
    s->closer = closer;
    return s;
}

/* mkdir -p of the directories in `path` (up to its last '/'). */
static int make_parents(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc < 0 && errno != EEXIST) return -1;
    }
    return 0;
}

static ipfix_status store_open(collect_store *s, time_t now, ipfix_error *err) {
    char name[256];
    if (!collect_store_file_name(name, sizeof name, now, s->tag))
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "file name", "too long");
    int n = snprintf(s->final_path, sizeof s->final_path, "%s/%s", s->dir, name);
    if (n < 0 || (size_t)n >= sizeof s->final_path)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "file name", "path too long");
    /* Never replace an existing file (a restart or HUP within one second). */
    for (unsigned k = 1; access(s->final_path, F_OK) == 0 && k < 1000; k++)
        snprintf(s->final_path, sizeof s->final_path, "%s/%.*s-%u.ipfix", s->dir,
                 (int)(strlen(name) - 6), name, k);
    char *slash = strrchr(s->final_path, '/');
    snprintf(s->temp_path, sizeof s->temp_path, "%.*s/.%s.tmp", (int)(slash - s->final_path),
             s->final_path, slash + 1);
    if (make_parents(s->temp_path) < 0) return io_error(err, "mkdir", s->temp_path);
    s->fd = open(s->temp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->fd < 0) return io_error(err, "open", s->temp_path);
    s->opened = now;
    s->period_end = (now / s->rotate_seconds + 1) * (time_t)s->rotate_seconds;
    s->generation++;
    s->next_local_odid = 1;
    s->next_template_id = IPFIX_SET_ID_DATA_MIN;
    s->meta_sequence = 0;
    s->meta_templates_written = false;
    s->length = 0;
    return IPFIX_OK;
}

static ipfix_status store_flush(collect_store *s, ipfix_error *err) {
    size_t done = 0;
    while (done < s->length) {
        ssize_t n = write(s->fd, s->buffer + done, s->length - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_error(err, "write", s->temp_path);
        }
        done += (size_t)n;
    }
    s->stats.bytes += s->length;
    s->length = 0;
    return IPFIX_OK;
}

/* Room for `need` more bytes in the buffer. */
static ipfix_status store_room(collect_store *s, size_t need, ipfix_error *err) {
    if (s->length + need <= s->capacity) return IPFIX_OK;
    return store_flush(s, err);
}

/* Flush the buffer and complete the file: in the closer thread when there
 * is one (the fsync may take long), else here. */
static ipfix_status store_close(collect_store *s, ipfix_error *err) {
    if (s->fd < 0) return IPFIX_OK;
    ipfix_status st = store_flush(s, err);
    int fd = s->fd;
    s->fd = -1;
    if (st != IPFIX_OK) {
        close(fd);
        unlink(s->temp_path);
        return st;
    }
    if (!s->closer || collect_store_closer_submit(s->closer, fd, s->temp_path, s->final_path,
                                                  s->fsync) != IPFIX_OK) {
        st = collect_store_finish_file(fd, s->temp_path, s->final_path, s->fsync, err);
        if (st != IPFIX_OK) return st;
    }
    snprintf(s->last_path, sizeof s->last_path, "%s", s->final_path);
    s->stats.files++;
    return IPFIX_OK;
}

ipfix_status collect_store_rotate(collect_store *s, const struct timespec *now, bool force,
                                  ipfix_error *err) {
    if (s->fd < 0) return IPFIX_OK;
    if (!force && now->tv_sec < s->period_end) return IPFIX_OK;
    return store_close(s, err);
}

ipfix_status collect_store_free(collect_store *s, ipfix_error *err) {
    if (!s) return IPFIX_OK;
    ipfix_status st = store_close(s, err);
    free(s->dir);
    free(s->buffer);
    free(s);
    return st;
}

const char *collect_store_last_path(const collect_store *s) { return s->last_path; }

void collect_store_get_stats(const collect_store *s, collect_store_stats *stats) {
    *stats = s->stats;
}

/* ------------------------------------------------------- template ID map */

/* Exporter templates get IDs below the map templates; a file rotates when
 * fewer than this many are left (one message defines at most ~8k). */
#define STORE_TEMPLATE_ID_LIMIT 65280u
#define STORE_TEMPLATE_ID_RESERVE 8192u

void collect_store_domain_release(collect_store_domain *d) {
    for (unsigned i = 0; i < 256; i++) {
        free(d->pages[i]);
        d->pages[i] = NULL;
    }
}

/* The file-local ID of exporter template `id` (allocated on first use); 0
 * on allocation failure. IDs 0-255 (set IDs, "withdraw all") are kept. */
static uint16_t map_template(collect_store *s, collect_store_domain *d, uint16_t id) {
    if (id < IPFIX_SET_ID_DATA_MIN) return id;
    uint16_t **page = &d->pages[id >> 8];
    if (!*page && !(*page = calloc(256, sizeof **page))) return 0;
    uint16_t *slot = &(*page)[id & 0xFF];
    if (*slot == 0 && s->next_template_id < STORE_TEMPLATE_ID_LIMIT)
        *slot = (uint16_t)s->next_template_id++;
    return *slot;
}

static void map_reset(collect_store_domain *d) {
    for (unsigned i = 0; i < 256; i++)
        if (d->pages[i]) memset(d->pages[i], 0, 256 * sizeof *d->pages[i]);
}

/* Rewrite the Template IDs of the (options) template and withdrawal
 * records of a copied set at `p` (`length` bytes, set header included). */
static void rewrite_template_set(collect_store *s, collect_store_domain *d, uint8_t *p,
                                 size_t length, bool options) {
    size_t pos = IPFIX_SET_HEADER_SIZE;
    while (pos + 4 <= length) {
        uint16_t id = (uint16_t)(p[pos] << 8 | p[pos + 1]);
        uint16_t count = (uint16_t)(p[pos + 2] << 8 | p[pos + 3]);
        if (id < IPFIX_SET_ID_DATA_MIN && count > 0) return; /* invalid: the reader said so */
        put16(p + pos, map_template(s, d, id));
        pos += 4;
        if (count == 0) continue; /* withdrawal */
        if (options) pos += 2;    /* scope field count */
        for (uint16_t f = 0; f < count && pos + 4 <= length; f++)
            pos += (p[pos] & 0x80) ? 8 : 4; /* enterprise bit: + PEN */
    }
}

/* Copy `message` to `out` as stored: sets in `skips` and bytes that do not
 * form a set left out, IDs mapped. Returns the stored length. */
static size_t rewrite_message(collect_store *s, collect_store_domain *d, const uint8_t *message,
                              size_t length, const collect_store_skip *skips, size_t skip_count,
                              uint8_t *out) {
    memcpy(out, message, IPFIX_MESSAGE_HEADER_SIZE);
    size_t pos = IPFIX_MESSAGE_HEADER_SIZE, w = pos, k = 0;
    while (pos + IPFIX_SET_HEADER_SIZE <= length) {
        uint16_t set_id = (uint16_t)(message[pos] << 8 | message[pos + 1]);
        size_t set_length = (size_t)(message[pos + 2] << 8 | message[pos + 3]);
        if (set_length < IPFIX_SET_HEADER_SIZE || pos + set_length > length) break;
        while (k < skip_count && skips[k].offset < pos) k++;
        if (k < skip_count && skips[k].offset == pos) {
            pos += set_length;
            continue;
        }
        memcpy(out + w, message + pos, set_length);
        if (set_id == IPFIX_SET_ID_TEMPLATE || set_id == IPFIX_SET_ID_OPTIONS_TEMPLATE)
            rewrite_template_set(s, d, out + w, set_length,
                                 set_id == IPFIX_SET_ID_OPTIONS_TEMPLATE);
        else if (set_id >= IPFIX_SET_ID_DATA_MIN)
            put16(out + w, map_template(s, d, set_id));
        w += set_length;
        pos += set_length;
    }
    /* Bytes that do not form a set (the reader reported them as malformed)
     * are not stored: the stored message stays well-formed. */
    return w;
}

/* ---------------------------------------------------------------- recovery */

/* Length of the prefix of the file made of complete, plausible messages
 * (version 10, length >= 16, sets tiling the message). */
static uint64_t complete_prefix(int fd, uint64_t *messages) {
    uint8_t header[IPFIX_MESSAGE_HEADER_SIZE];
    uint8_t *body = malloc(STORE_MAX_MESSAGE);
    uint64_t pos = 0;
    *messages = 0;
    if (!body) return 0;
    for (;;) {
        if (pread(fd, header, sizeof header, (off_t)pos) != (ssize_t)sizeof header) break;
        size_t length = (size_t)(header[2] << 8 | header[3]);
        if (header[0] != 0 || header[1] != IPFIX_VERSION || length < IPFIX_MESSAGE_HEADER_SIZE)
            break;
        size_t rest = length - IPFIX_MESSAGE_HEADER_SIZE;
        if (rest && pread(fd, body, rest, (off_t)(pos + IPFIX_MESSAGE_HEADER_SIZE)) != (ssize_t)rest)
            break;
        size_t p = 0;
        while (p + IPFIX_SET_HEADER_SIZE <= rest) {
            size_t set_length = (size_t)(body[p + 2] << 8 | body[p + 3]);
            if (set_length < IPFIX_SET_HEADER_SIZE) break;
            p += set_length;
        }
        if (p != rest) break;
        pos += length;
        (*messages)++;
    }
    free(body);
    return pos;
}

static void recover_file(const char *dir, const char *name, collect_store_recover_fn report,
                         void *context) {
    char temp[STORE_PATH_MAX], final[STORE_PATH_MAX];
    size_t n = strlen(name);
    snprintf(temp, sizeof temp, "%s/%s", dir, name);
    snprintf(final, sizeof final, "%s/%.*s", dir, (int)(n - 5), name + 1); /* ".X.tmp" -> "X" */
    for (unsigned k = 1; access(final, F_OK) == 0 && k < 1000; k++)
        snprintf(final, sizeof final, "%s/%.*s-recovered-%u.ipfix", dir, (int)(n - 11), name + 1, k);
    int fd = open(temp, O_RDWR | O_CLOEXEC);
    if (fd < 0) return;
    uint64_t messages, keep = complete_prefix(fd, &messages);
    bool kept = keep > 0 && ftruncate(fd, (off_t)keep) == 0 && fsync(fd) == 0;
    close(fd);
    if (kept && rename(temp, final) == 0) {
        collect_store_fsync_parent(final);
    } else {
        kept = false;
        unlink(temp);
    }
    if (report) report(context, temp, final, keep, messages, kept);
}

static int recover_dir(const char *dir, int depth, collect_store_recover_fn report,
                       void *context) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int handled = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        const char *name = ent->d_name;
        size_t n = strlen(name);
        if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
        char path[STORE_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        struct stat sb;
        if (lstat(path, &sb) < 0) continue;
        if (S_ISDIR(sb.st_mode) && depth < 4) {
            int h = recover_dir(path, depth + 1, report, context);
            if (h > 0) handled += h;
        } else if (S_ISREG(sb.st_mode) && name[0] == '.' && n > 11 &&
                   !strcmp(name + n - 10, ".ipfix.tmp")) {
            recover_file(dir, name, report, context);
            handled++;
        }
    }
    closedir(d);
    return handled;
}

int collect_store_recover(const char *dir, collect_store_recover_fn report, void *context) {
    struct stat sb;
    if (stat(dir, &sb) < 0) return errno == ENOENT ? 0 : -1;
    return recover_dir(dir, 0, report, context);
}

/* ---------------------------------------------------------------- metadata */

static uint8_t *begin_message(collect_store *s, uint32_t export_time, uint32_t sequence,
                              uint32_t odid) {
    uint8_t *h = s->buffer + s->length;
    put16(h, IPFIX_VERSION);
    put32(h + 4, export_time);
    put32(h + 8, sequence);
    put32(h + 12, odid);
    s->length += IPFIX_MESSAGE_HEADER_SIZE;
    return h;
}

static void end_message(collect_store *s, uint8_t *header) {
    put16(header + 2, (uint16_t)(s->buffer + s->length - header));
}

/* Options template: scope observationDomainId, then the exporter fields. */
static size_t encode_map_template(uint8_t *p, bool v6) {
    static const uint16_t ids[6] = {149, 0, 217, 4, 405, 258};
    static const uint16_t lengths[6] = {4, 0, 2, 1, 4, 8};
    put16(p, v6 ? COLLECT_STORE_MAP_V6_TEMPLATE : COLLECT_STORE_MAP_V4_TEMPLATE);
    put16(p + 2, 6);
    put16(p + 4, 1);
    uint8_t *f = p + 6;
    for (int i = 0; i < 6; i++, f += 4) {
        put16(f, i == 1 ? (v6 ? 131 : 130) : ids[i]);
        put16(f + 2, i == 1 ? (v6 ? 16 : 4) : lengths[i]);
    }
    return (size_t)(f - p);
}

/* The domain-0 message mapping `local_odid` to the exporter. */
static void write_map(collect_store *s, uint32_t local_odid, const collect_store_origin *o,
                      uint32_t export_time) {
    bool v6 = o->family == 6;
    uint8_t *h = begin_message(s, export_time, s->meta_sequence, COLLECT_STORE_META_ODID);
    if (!s->meta_templates_written) {
        uint8_t *set = s->buffer + s->length;
        put16(set, IPFIX_SET_ID_OPTIONS_TEMPLATE);
        size_t n = 4;
        n += encode_map_template(set + n, false);
        n += encode_map_template(set + n, true);
        put16(set + 2, (uint16_t)n);
        s->length += n;
        s->meta_templates_written = true;
    }
    uint8_t *set = s->buffer + s->length;
    put16(set, v6 ? COLLECT_STORE_MAP_V6_TEMPLATE : COLLECT_STORE_MAP_V4_TEMPLATE);
    uint8_t *r = set + 4;
    put32(r, local_odid);
    r += 4;
    memcpy(r, o->address, v6 ? 16 : 4);
    r += v6 ? 16 : 4;
    put16(r, o->port);
    r[2] = o->protocol;
    put32(r + 3, o->odid);
    put64(r + 7, o->session_start_ms);
    r += 15;
    put16(set + 2, (uint16_t)(r - set));
    s->length += (size_t)(r - set);
    end_message(s, h);
    s->meta_sequence++;
}

/* Messages carrying every template of the origin's domain, under the
 * file-local ODID (split when they exceed one message). */
static ipfix_status write_preamble(collect_store *s, collect_store_domain *d,
                                   const collect_store_origin *o, uint32_t export_time,
                                   uint32_t sequence, ipfix_error *err) {
    uint32_t local_odid = d->local_odid;
    if (!o->session) return IPFIX_OK;
    for (int pass = 0; pass < 2; pass++) { /* templates, then options templates */
        bool want_options = pass == 1;
        uint32_t cursor = 0;
        const ipfix_template *t;
        uint8_t *h = NULL, *set = NULL;
        while ((t = ipfix_session_next_template(o->session, o->odid, &cursor))) {
            if (ipfix_template_is_options(t) != want_options) continue;
            size_t size = ipfix_template_record_size(t);
            if (h && (size_t)(s->buffer + s->length - h) + size > STORE_MAX_MESSAGE) {
                put16(set + 2, (uint16_t)(s->buffer + s->length - set));
                end_message(s, h);
                h = NULL;
            }
            if (!h) {
                ipfix_status st = store_room(s, STORE_MAX_MESSAGE, err);
                if (st != IPFIX_OK) return st;
                h = begin_message(s, export_time, sequence, local_odid);
                set = s->buffer + s->length;
                put16(set, want_options ? IPFIX_SET_ID_OPTIONS_TEMPLATE : IPFIX_SET_ID_TEMPLATE);
                s->length += IPFIX_SET_HEADER_SIZE;
            }
            uint8_t *record = s->buffer + s->length;
            s->length += ipfix_template_record_encode(t, record, size);
            put16(record, map_template(s, d, t->id));
        }
        if (h) {
            put16(set + 2, (uint16_t)(s->buffer + s->length - set));
            end_message(s, h);
        }
    }
    return IPFIX_OK;
}

ipfix_status collect_store_message(collect_store *s, collect_store_domain *domain,
                                   const collect_store_origin *origin, const uint8_t *message,
                                   size_t length, const collect_store_skip *skips,
                                   size_t skip_count, const struct timespec *now,
                                   ipfix_error *err) {
    ipfix_status st;
    if (length < IPFIX_MESSAGE_HEADER_SIZE || length > STORE_MAX_MESSAGE)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "RFC 7011 §3.1: message length",
                               "%zu", length);
    if (s->fd >= 0 && (now->tv_sec >= s->period_end ||
                       s->next_template_id + STORE_TEMPLATE_ID_RESERVE > STORE_TEMPLATE_ID_LIMIT) &&
        (st = store_close(s, err)) != IPFIX_OK)
        return st;
    if (s->fd < 0 && (st = store_open(s, now->tv_sec, err)) != IPFIX_OK) return st;
    uint32_t sequence = (uint32_t)message[8] << 24 | (uint32_t)message[9] << 16 |
                        (uint32_t)message[10] << 8 | message[11];
    if (domain->file_generation != s->generation) {
        if ((st = store_room(s, 256, err)) != IPFIX_OK) return st;
        domain->file_generation = s->generation;
        domain->local_odid = s->next_local_odid++;
        map_reset(domain);
        write_map(s, domain->local_odid, origin, (uint32_t)now->tv_sec);
        st = write_preamble(s, domain, origin, (uint32_t)now->tv_sec, sequence, err);
        if (st != IPFIX_OK) return st;
    }
    if ((st = store_room(s, length, err)) != IPFIX_OK) return st;
    uint8_t *out = s->buffer + s->length;
    size_t w = rewrite_message(s, domain, message, length, skips, skip_count, out);
    put16(out + 2, (uint16_t)w);
    put32(out + 12, domain->local_odid);
    s->length += w;
    s->stats.messages++;
    return IPFIX_OK;
}
