/*
 * pcap_reader.c — classic pcap files read in large blocks (see
 * pcap_reader.h). The file header gives byte order and timestamp
 * resolution (magic 0xa1b2c3d4 microseconds, 0xa1b23c4d nanoseconds); each
 * record is a 16-byte header (seconds, sub-seconds, captured length, wire
 * length) followed by the captured bytes. Records are parsed in place from
 * an 8 MiB buffer backed by huge pages where available (one read() per
 * 8 MiB, few TLB misses); a record crossing the end of the buffer is moved
 * to its start before the next read. A record that runs past the end of the
 * file ends reading and is reported as truncated.
 */
#include "meter/pcap_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCAP_HEADER 24u
#define RECORD_HEADER 16u
#define BUFFER_SIZE (8u << 20)
#define MAX_RECORD (RECORD_HEADER + 262144u) /* larger snap lengths are rejected */

struct ipfix_pcap_reader {
    int fd;
    uint8_t *buf;
    size_t start, end;     /* unread bytes are buf[start, end) */
    uint64_t consumed;     /* file offset of buf[start] */
    uint64_t size;
    bool eof;
    bool swapped;
    bool nanoseconds;
    bool truncated;
    int linktype;
};

static uint32_t rd32(const ipfix_pcap_reader *r, const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return r->swapped ? __builtin_bswap32(v) : v;
}

ipfix_status ipfix_pcap_reader_open(const char *path, ipfix_pcap_reader **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return IPFIX_ERR_IO;
    struct stat st;
    uint8_t hdr[PCAP_HEADER];
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        read(fd, hdr, sizeof hdr) != (ssize_t)sizeof hdr) {
        close(fd);
        return IPFIX_ERR_UNSUPPORTED;
    }
    uint32_t magic;
    memcpy(&magic, hdr, 4);
    ipfix_pcap_reader r = {.fd = fd, .size = (uint64_t)st.st_size, .consumed = PCAP_HEADER};
    if (magic == 0xA1B2C3D4u || magic == 0xA1B23C4Du) {
        r.nanoseconds = magic == 0xA1B23C4Du;
    } else if (magic == 0xD4C3B2A1u || magic == 0x4D3CB2A1u) {
        r.swapped = true;
        r.nanoseconds = magic == 0x4D3CB2A1u;
    } else {
        close(fd);
        return IPFIX_ERR_UNSUPPORTED;
    }
    r.linktype = (int)(rd32(&r, hdr + 20) & 0x0FFFFFFFu);
    void *buf = mmap(NULL, BUFFER_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ipfix_pcap_reader *reader = malloc(sizeof *reader);
    if (buf == MAP_FAILED || !reader) {
        if (buf != MAP_FAILED) munmap(buf, BUFFER_SIZE);
        free(reader);
        close(fd);
        return IPFIX_ERR_NOMEM;
    }
#ifdef MADV_HUGEPAGE
    madvise(buf, BUFFER_SIZE, MADV_HUGEPAGE);
#endif
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    r.buf = buf;
    *reader = r;
    *out = reader;
    return IPFIX_OK;
}

void ipfix_pcap_reader_close(ipfix_pcap_reader *reader) {
    if (!reader) return;
    munmap(reader->buf, BUFFER_SIZE);
    close(reader->fd);
    free(reader);
}

int ipfix_pcap_reader_linktype(const ipfix_pcap_reader *reader) {
    return reader->linktype;
}

/* Keep the unread tail, fill the rest of the buffer; false at EOF/error. */
static bool refill(ipfix_pcap_reader *r) {
    if (r->eof) return false;
    size_t tail = r->end - r->start;
    memmove(r->buf, r->buf + r->start, tail);
    r->start = 0;
    r->end = tail;
    while (r->end < BUFFER_SIZE) {
        ssize_t n = read(r->fd, r->buf + r->end, BUFFER_SIZE - r->end);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            r->eof = true;
            break;
        }
        r->end += (size_t)n;
    }
    return r->end > tail;
}

bool ipfix_pcap_reader_next(ipfix_pcap_reader *r, uint64_t *time_ns, const uint8_t **data,
                            uint32_t *caplen, uint32_t *wirelen) {
    for (;;) {
        size_t avail = r->end - r->start;
        if (avail >= RECORD_HEADER) {
            const uint8_t *h = r->buf + r->start;
            __builtin_prefetch(h + 512);
            uint32_t cap = rd32(r, h + 8);
            if (cap > MAX_RECORD - RECORD_HEADER) { /* corrupt: stop */
                r->truncated = true;
                return false;
            }
            if (avail >= RECORD_HEADER + cap) {
                uint64_t sub = rd32(r, h + 4);
                *time_ns = (uint64_t)rd32(r, h) * 1000000000u + (r->nanoseconds ? sub : sub * 1000u);
                *caplen = cap;
                *wirelen = rd32(r, h + 12);
                *data = h + RECORD_HEADER;
                r->start += RECORD_HEADER + cap;
                r->consumed += RECORD_HEADER + cap;
                return true;
            }
        }
        if (!refill(r)) {
            if (r->end != r->start) r->truncated = true;
            return false;
        }
    }
}

bool ipfix_pcap_reader_truncated(const ipfix_pcap_reader *reader) {
    return reader->truncated;
}

uint64_t ipfix_pcap_reader_offset(const ipfix_pcap_reader *reader) {
    return reader->consumed;
}

uint64_t ipfix_pcap_reader_size(const ipfix_pcap_reader *reader) {
    return reader->size;
}
