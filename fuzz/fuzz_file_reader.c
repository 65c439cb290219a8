/*
 * fuzz_file_reader.c — libFuzzer target for the IPFIX File Reader (file.h:
 * framing, error reporting and resynchronisation after damaged regions),
 * followed by decoding every message it yields like fuzz_message_reader
 * (one session of transport FILE for the whole file; 1024 bytes of held
 * data sets, 64 templates, 16 domains).
 *
 * Input: the file's bytes, as is (seeds are real IPFIX files). file.h reads
 * only paths, so the input is written to an in-memory file (memfd, opened
 * through /proc/self/fd: a regular file, read mapped); inputs whose size is
 * 3 mod 4 go through a pipe instead, to exercise the buffered stream path.
 * The reader's output is checked against the input: every message returned
 * is the input's bytes at the reported offset, offsets only move forward,
 * and every call makes progress.
 * Seeds: fuzz/corpus/fuzz_file_reader (tools/make_fuzz_seeds.py).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create (CMake defines it for every target) */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_decode.h"
#include "ipfixkit/file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PIPE_MAX 65536u /* default pipe capacity: written in one go, no thread */

static bool write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* A regular file holding the input: a memfd reused from input to input
 * (a temporary file if memfd is not available). */
static int regular_file(const uint8_t *data, size_t size) {
    static int fd = -1;
    if (fd < 0) {
        fd = memfd_create("ipfixkit-fuzz", MFD_CLOEXEC);
        if (fd < 0) {
            char path[] = "/tmp/ipfixkit-fuzz-XXXXXX";
            fd = mkstemp(path);
            if (fd < 0) abort();
            unlink(path);
        }
    }
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0 || !write_all(fd, data, size)) abort();
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bool use_pipe = (size & 3) == 3 && size <= PIPE_MAX;
    int pipe_fds[2] = {-1, -1};
    char path[64];
    if (use_pipe) {
        if (pipe(pipe_fds) != 0) abort();
        if (!write_all(pipe_fds[1], data, size)) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", pipe_fds[0]);
    } else {
        snprintf(path, sizeof path, "/proc/self/fd/%d", regular_file(data, size));
    }

    ipfix_file_reader *fr = NULL;
    ipfix_error err;
    ipfix_status st = ipfix_file_reader_open(path, &fr, &err);
    if (use_pipe) { /* the reader has its own descriptor; EOF after the data */
        close(pipe_fds[1]);
        close(pipe_fds[0]);
    }
    if (st != IPFIX_OK) abort(); /* our own file: must open */
    FUZZ_CHECK(ipfix_file_reader_size(fr) == (use_pipe ? 0 : size));

    ipfix_session_config cfg;
    ipfix_session_config_default(&cfg, IPFIX_TRANSPORT_FILE);
    cfg.pending_bytes_max = 1024;
    cfg.max_templates = 64;
    cfg.max_domains = 16;
    ipfix_session *s = ipfix_session_new(fuzz_model(), &cfg);
    if (!s) abort();

    uint64_t next_min = 0, messages = 0, bytes = 0;
    size_t calls = 0;
    for (;;) {
        const uint8_t *msg = NULL;
        size_t length = 0;
        uint64_t offset = 0;
        ipfix_error_clear(&err);
        st = ipfix_file_reader_next(fr, &msg, &length, &offset, &err);
        /* Each call returns a message, reports an error, or ends: at most
         * one error per byte and one message per 16 bytes. */
        FUZZ_CHECK(++calls <= 2 * size + 2);
        if (st == IPFIX_END) break;
        if (st == IPFIX_OK) {
            FUZZ_CHECK(offset >= next_min && offset <= size && length <= size - offset);
            FUZZ_CHECK(length >= IPFIX_MESSAGE_HEADER_SIZE);
            FUZZ_CHECK(memcmp(msg, data + offset, length) == 0);
            FUZZ_CHECK(ipfix_get_u16(msg) == IPFIX_VERSION && ipfix_get_u16(msg + 2) == length);
            next_min = offset + length;
            messages++;
            bytes += length;
            fuzz_read_message(s, msg, length, length, 0, false, true);
            continue;
        }
        FUZZ_CHECK(st == IPFIX_ERR_MALFORMED || st == IPFIX_ERR_TRUNCATED);
        FUZZ_CHECK(err.rule != NULL && err.offset <= size);
    }
    ipfix_file_reader_stats stats;
    ipfix_file_reader_get_stats(fr, &stats);
    FUZZ_CHECK(stats.messages == messages && stats.bytes == bytes);
    FUZZ_CHECK(stats.bytes + stats.skipped_bytes <= size);
    ipfix_file_reader_close(fr);
    fuzz_check_session(s);
    ipfix_session_free(s);
    return 0;
}
