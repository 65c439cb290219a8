/*
 * store.h — the collector's embedded store (internal): one worker's stream
 * of rotated IPFIX Files (RFC 5655). See store.c for the file layout.
 */
#ifndef IPFIXKIT_COLLECT_STORE_H
#define IPFIXKIT_COLLECT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ipfixkit/collect.h"
#include "ipfixkit/error.h"
#include "ipfixkit/session.h"

/* Metadata domain and templates of the exporter map (see store.c). */
#define COLLECT_STORE_META_ODID 0u
#define COLLECT_STORE_MAP_V4_TEMPLATE 65280u
#define COLLECT_STORE_MAP_V6_TEMPLATE 65281u

typedef struct collect_store collect_store;

/* The closer thread (store_closer.c): completes finished files (fsync,
 * close, rename, fsync of the directory) off the receive path, in order.
 * It owns the descriptors handed to it; drain() waits until all are done,
 * free() drains and stops it. Failures are logged through `log`. */
typedef struct collect_store_closer collect_store_closer;
collect_store_closer *collect_store_closer_new(ipfix_log_fn log, void *log_context);
ipfix_status collect_store_closer_submit(collect_store_closer *closer, int fd,
                                         const char *temp_path, const char *final_path,
                                         bool fsync);
void collect_store_closer_drain(collect_store_closer *closer);
/* Files completed and files that could not be (data lost). */
void collect_store_closer_get_stats(collect_store_closer *closer, uint64_t *files,
                                    uint64_t *errors);
void collect_store_closer_free(collect_store_closer *closer);

/* Complete a file now: fsync (if `fsync_data`), close, rename `temp_path`
 * to `final_path`, fsync the directory; on failure remove the temporary
 * file. Closes `fd` in every case. */
ipfix_status collect_store_finish_file(int fd, const char *temp_path, const char *final_path,
                                       bool fsync_data, ipfix_error *err);
/* fsync the directory that holds `path`. */
void collect_store_fsync_parent(const char *path);

/* Where one (Transport Session, Observation Domain) stands in the current
 * file; kept by the caller per domain, zero-initialised. */
typedef struct collect_store_domain {
    uint64_t file_generation;   /* file in which local_odid and the map are valid */
    uint32_t local_odid;
    uint16_t *pages[256];       /* exporter Template ID -> file-local ID (0: none),
                                   256 pages of 256, allocated on use */
} collect_store_domain;

/* Free the pages of a domain's template map. */
void collect_store_domain_release(collect_store_domain *domain);

/* The exporter a message came from. */
typedef struct collect_store_origin {
    uint8_t family;             /* 4 or 6 */
    uint8_t address[16];
    uint16_t port;
    uint8_t protocol;           /* 6 TCP, 17 UDP */
    uint32_t odid;              /* the exporter's Observation Domain ID */
    uint64_t session_start_ms;  /* when the Transport Session began */
    ipfix_session *session;     /* its current templates (preamble) */
} collect_store_origin;

/* A byte range of the message left out of the stored copy (a data set whose
 * template is unknown, so that the file stays decodable). */
typedef struct collect_store_skip {
    uint32_t offset;
    uint32_t length;
} collect_store_skip;

typedef struct collect_store_stats {
    uint64_t files;             /* finished files (renamed, or handed to the closer) */
    uint64_t messages;          /* exporter messages stored */
    uint64_t bytes;             /* bytes written */
} collect_store_stats;

/* `dir` and `tag` are copied. `tag` ends the file names and tells apart the
 * stores writing into one directory ("w0" per worker; "udp5000" per
 * exporter with per-exporter directories). `small`: a 256 KiB write buffer
 * instead of 4 MiB (one store per exporter). `closer` (borrowed, may be
 * NULL) completes the finished files; without it they are completed in
 * the calling thread. */
collect_store *collect_store_new(const char *dir, unsigned rotate_seconds, const char *tag,
                                 bool fsync, bool small, collect_store_closer *closer);
/* Closes the current file (as collect_store_close) and frees. */
ipfix_status collect_store_free(collect_store *store, ipfix_error *err);

/* Store one message (its ODID replaced by the file-local one). Opens a file
 * when none is open. `now` is the wall-clock time. */
ipfix_status collect_store_message(collect_store *store, collect_store_domain *domain,
                                   const collect_store_origin *origin, const uint8_t *message,
                                   size_t length, const collect_store_skip *skips,
                                   size_t skip_count, const struct timespec *now,
                                   ipfix_error *err);

/* Close the current file if its period is over (or `force`): flush, fsync,
 * rename to the final name. No-op when no file is open. */
ipfix_status collect_store_rotate(collect_store *store, const struct timespec *now, bool force,
                                  ipfix_error *err);

/* Path of the last completed file ("" if none). */
const char *collect_store_last_path(const collect_store *store);
void collect_store_get_stats(const collect_store *store, collect_store_stats *stats);

/* After a crash: every ".NAME.tmp" under `dir` (a file interrupted while
 * being written) is cut after its last complete message and renamed to
 * NAME (NAME-recovered-K if taken); a file without a complete message is
 * removed. `report` is called once per file (kept = false when removed).
 * Returns the number of files handled, or -1 if `dir` cannot be walked. */
typedef void (*collect_store_recover_fn)(void *context, const char *temp_path,
                                         const char *final_path, uint64_t bytes,
                                         uint64_t messages, bool kept);
int collect_store_recover(const char *dir, collect_store_recover_fn report, void *context);

/* The final file name for a file opened at `t` by the store tagged `tag`,
 * relative to the store directory: "YYYY/MM/DD/ipfix-YYYYMMDDHHMMSS-TAG.ipfix"
 * (UTC). Returns the length, or 0 if it does not fit. Exposed for tests. */
size_t collect_store_file_name(char *out, size_t size, time_t t, const char *tag);

#endif
