/*
 * file_reader.c — the IPFIX File Reader's framing layer (RFC 5655 §7.1; see
 * file.h): yields the messages of a file one by one, reports damaged
 * regions with their file offset, and resynchronises after them.
 *
 * Regular files are mapped read-only; pipes and standard input go through a
 * sliding buffer. Both are reached through view(), which returns the bytes
 * at an absolute file offset, so framing and resynchronisation are written
 * once. Decoding the messages is the caller's job (ipfix_session of
 * transport FILE + ipfix_reader), since a file is one Transport Session
 * (RFC 5655 §7.1).
 */
#include "ipfixkit/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipfixkit/reader.h"
#include "ipfixkit/value.h"

#define STREAM_BUFFER_SIZE (256u * 1024u) /* > 2 messages of 65535 bytes */
#define SCAN_CHUNK 65536u

struct ipfix_file_reader {
    int fd;
    bool own_fd;
    bool mapped;
    const uint8_t *map;     /* mapped: the whole file */
    uint64_t size;          /* mapped: file size */
    uint8_t *buf;           /* stream: bytes [buf_off, buf_off + buf_len) */
    uint64_t buf_off;
    size_t buf_len;
    bool eof;
    int io_errno;           /* non-zero after a read error */
    uint64_t pos;           /* next byte to frame */
    bool resync;            /* the next call scans from pos + 1 */
    ipfix_file_reader_stats stats;
};

/* ---- byte access ---- */

/* Read until the buffer holds `want` bytes from its start, or EOF/error. */
static void stream_fill(ipfix_file_reader *r, size_t want) {
    while (r->buf_len < want && !r->eof && !r->io_errno) {
        ssize_t k = read(r->fd, r->buf + r->buf_len, STREAM_BUFFER_SIZE - r->buf_len);
        if (k < 0) {
            if (errno == EINTR) continue;
            r->io_errno = errno;
        } else if (k == 0) {
            r->eof = true;
        } else {
            r->buf_len += (size_t)k;
        }
    }
}

/* The bytes at absolute offset `off`; *avail = how many of the `want`
 * requested exist (fewer only at the end of the file). For streams, bytes
 * before `off` are discarded, so offsets must not go backwards. */
static const uint8_t *view(ipfix_file_reader *r, uint64_t off, size_t want, size_t *avail) {
    if (r->mapped) {
        uint64_t left = off < r->size ? r->size - off : 0;
        *avail = left < want ? (size_t)left : want;
        return r->map ? r->map + off : NULL;
    }
    if (want > STREAM_BUFFER_SIZE) want = STREAM_BUFFER_SIZE;
    while (r->buf_off + r->buf_len < off && !r->eof && !r->io_errno) {
        /* Bytes before `off` were never read (not expected): drop them. */
        r->buf_off += r->buf_len;
        r->buf_len = 0;
        stream_fill(r, 1);
    }
    size_t skip = off > r->buf_off ? (size_t)(off - r->buf_off) : 0;
    if (skip > r->buf_len) skip = r->buf_len;
    if (r->buf_len - skip < want && !r->eof && !r->io_errno) {
        if (skip + want > STREAM_BUFFER_SIZE) {
            /* Slide the bytes still wanted to the front. */
            memmove(r->buf, r->buf + skip, r->buf_len - skip);
            r->buf_len -= skip;
            r->buf_off += skip;
            skip = 0;
        }
        stream_fill(r, skip + want);
    }
    size_t left = r->buf_len - skip;
    *avail = left < want ? left : want;
    return r->buf + skip;
}

/* ---- open / close ---- */

static ipfix_status open_error(ipfix_error *err, const char *what, const char *path) {
    int e = errno;
    return ipfix_error_set(err, IPFIX_ERR_IO, 0, "I/O error", "%s %s: %s", what, path, strerror(e));
}

ipfix_status ipfix_file_reader_open(const char *path, ipfix_file_reader **out, ipfix_error *err) {
    if (!path || !out) return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "file reader", "no path");
    *out = NULL;
    ipfix_file_reader *r = calloc(1, sizeof *r);
    if (!r) return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
    if (strcmp(path, "-") == 0) {
        r->fd = STDIN_FILENO;
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            free(r);
            return open_error(err, "open", path);
        }
        r->own_fd = true;
    }
    struct stat sb;
    if (r->own_fd && fstat(r->fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        r->mapped = true;
        r->size = (uint64_t)sb.st_size;
        if (r->size > 0) {
            /* Pre-faulting the mapping costs far less than one page fault per
             * 4 KiB when the whole file is decoded (about 10% of --count's
             * time); above 1 GiB let the kernel's read-ahead work instead. */
            int populate = r->size <= (1ull << 30) ? MAP_POPULATE : 0;
            void *m = mmap(NULL, (size_t)r->size, PROT_READ, MAP_PRIVATE | populate, r->fd, 0);
            if (m == MAP_FAILED) {
                ipfix_status st = open_error(err, "mmap", path);
                ipfix_file_reader_close(r);
                return st;
            }
            madvise(m, (size_t)r->size, MADV_SEQUENTIAL);
            r->map = m;
        }
    } else {
        r->buf = malloc(STREAM_BUFFER_SIZE);
        if (!r->buf) {
            ipfix_file_reader_close(r);
            return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
        }
    }
    *out = r;
    return IPFIX_OK;
}

void ipfix_file_reader_close(ipfix_file_reader *r) {
    if (!r) return;
    if (r->map) munmap((void *)r->map, (size_t)r->size);
    if (r->own_fd && r->fd >= 0) close(r->fd);
    free(r->buf);
    free(r);
}

/* ---- resynchronisation ---- */

/* Could a message start at `off`? Version 10, length >= 20 (a header and at
 * least one set) within the file, and Sets that tile the message exactly
 * with valid Set IDs (RFC 7011 §3.3.2: 2, 3 or >= 256; length >= 4). */
static bool plausible_message(ipfix_file_reader *r, uint64_t off) {
    size_t avail;
    const uint8_t *p = view(r, off, IPFIX_MESSAGE_HEADER_SIZE, &avail);
    if (avail < IPFIX_MESSAGE_HEADER_SIZE || ipfix_get_u16(p) != IPFIX_VERSION) return false;
    size_t len = ipfix_get_u16(p + 2);
    if (len < IPFIX_MESSAGE_HEADER_SIZE + IPFIX_SET_HEADER_SIZE) return false;
    p = view(r, off, len, &avail);
    if (avail < len) return false;
    size_t pos = IPFIX_MESSAGE_HEADER_SIZE;
    while (pos < len) {
        if (len - pos < IPFIX_SET_HEADER_SIZE) return false;
        uint16_t id = ipfix_get_u16(p + pos), slen = ipfix_get_u16(p + pos + 2);
        if (id < IPFIX_SET_ID_DATA_MIN && id != IPFIX_SET_ID_TEMPLATE && id != IPFIX_SET_ID_OPTIONS_TEMPLATE)
            return false;
        if (slen < IPFIX_SET_HEADER_SIZE || slen > len - pos) return false;
        pos += slen;
    }
    return true;
}

/* The offset of the next plausible message at or after `from`, or the end
 * of the file (*found = false). */
static uint64_t scan_forward(ipfix_file_reader *r, uint64_t from, bool *found) {
    uint64_t c = from;
    for (;;) {
        size_t avail;
        const uint8_t *p = view(r, c, SCAN_CHUNK, &avail);
        if (avail < 2) {
            *found = false;
            return c + avail;
        }
        size_t i = 0;
        for (; i + 1 < avail; i++) {
            if (p[i] != 0x00 || p[i + 1] != IPFIX_VERSION) continue;
            if (plausible_message(r, c + i)) {
                *found = true;
                return c + i;
            }
            break; /* the view may have moved: look again from the next byte */
        }
        c += i + 1;
    }
}

/* ---- framing ---- */

/* Count a framing error; the next call resynchronises. */
static void frame_error(ipfix_file_reader *r) {
    r->stats.errors++;
    r->resync = true;
}

ipfix_status ipfix_file_reader_next(ipfix_file_reader *r, const uint8_t **message, size_t *length,
                                    uint64_t *offset, ipfix_error *err) {
    if (!r || !message || !length)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "file reader", "NULL argument");
    if (r->resync) {
        bool found;
        uint64_t next = scan_forward(r, r->pos + 1, &found);
        r->stats.skipped_bytes += next - r->pos;
        r->pos = next;
        r->resync = false;
        if (found) r->stats.resyncs++;
    }
    size_t avail;
    const uint8_t *p = view(r, r->pos, IPFIX_MESSAGE_HEADER_SIZE, &avail);
    if (r->io_errno)
        return ipfix_error_set(err, IPFIX_ERR_IO, (size_t)r->pos, "I/O error", "read: %s",
                               strerror(r->io_errno));
    if (avail == 0) return IPFIX_END;
    if (avail < IPFIX_MESSAGE_HEADER_SIZE) {
        r->stats.errors++;
        r->stats.skipped_bytes += avail;
        uint64_t at = r->pos;
        r->pos += avail;
        return ipfix_error_set(err, IPFIX_ERR_TRUNCATED, (size_t)at,
                               "RFC 7011 §3.1: file ends inside a message header",
                               "%zu of 16 header bytes", avail);
    }
    size_t len = 0;
    ipfix_error local;
    ipfix_error_clear(&local);
    ipfix_status st = ipfix_message_frame(p, avail, &len, &local);
    if (st == IPFIX_ERR_MALFORMED) {
        frame_error(r);
        if (err) {
            *err = local;
            err->offset = (size_t)(r->pos + local.offset);
        }
        return st;
    }
    if (st != IPFIX_OK && st != IPFIX_ERR_TRUNCATED) {
        frame_error(r);
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, (size_t)r->pos, "RFC 7011 §3.1: message header",
                               "cannot frame (%zu bytes, length %zu)", avail, len);
    }
    p = view(r, r->pos, len, &avail);
    if (r->io_errno)
        return ipfix_error_set(err, IPFIX_ERR_IO, (size_t)r->pos, "I/O error", "read: %s",
                               strerror(r->io_errno));
    if (avail < len) {
        frame_error(r);
        return ipfix_error_set(err, IPFIX_ERR_TRUNCATED, (size_t)r->pos,
                               "RFC 7011 §3.1: message length exceeds the end of the file",
                               "length %zu, %zu bytes left", len, avail);
    }
    *message = p;
    *length = len;
    if (offset) *offset = r->pos;
    r->pos += len;
    r->stats.messages++;
    r->stats.bytes += len;
    return IPFIX_OK;
}

void ipfix_file_reader_get_stats(const ipfix_file_reader *r, ipfix_file_reader_stats *stats) {
    if (r && stats) *stats = r->stats;
}

uint64_t ipfix_file_reader_size(const ipfix_file_reader *r) {
    return r && r->mapped ? r->size : 0;
}
