/*
 * ipfix_test_sender.c — test and benchmark exporter for `ipfix collect`,
 * built on the core message writer (writer.h) and plain sockets.
 *
 *   ipfix_test_sender exporters --host H --port P [--udp N] [--tcp M]
 *       [--records R] [--per-message K] [--odid-base B] [--gap-every G]
 *       [--pace-us U]
 *     N UDP and M TCP exporters, each its own socket (so its own Transport
 *     Session), ODID B+i, all using Template ID 256 but with one of four
 *     different layouts (i % 4). Every record carries its exporter in
 *     sourceIPv4Address 10.0.(i>>8).(i&255) and its ODID in
 *     ingressInterface, and a per-exporter serial number in octetDeltaCount.
 *     With --gap-every G, exporters whose index is a multiple of G drop
 *     their 3rd data message (not sent, but counted in the sequence numbers:
 *     a deliberate gap of K records). --source-port-base S binds UDP
 *     exporter i to source port S+i, so that a second run is the same
 *     exporter restarting (sequence numbers from 0 again); --layout-shift L
 *     gives it other templates (layout (i+L) % 4). --source-hosts H binds
 *     exporter i (IPv4) to source address 127.0.0.(1 + i % H), so that the
 *     exporters come from H addresses. Prints one line per exporter:
 *       exporter udp|tcp ODID LAYOUT sent RECORDS skipped RECORDS
 *
 *   ipfix_test_sender replay --udp|--tcp --host H --port P --records N
 *       [--odid O] [--message-size S] [--rate RECORDS_PER_S]
 *     Prebuilds an IPFIX stream (one template + data messages of about S
 *     bytes of typical IPv4 flow records, NetFlow-collector friendly) and
 *     sends it as fast as possible (or at --rate) until N records are sent,
 *     renumbering the sequence numbers so the stream is gap-free. Prints
 *       sent RECORDS records MESSAGES messages in SECONDS s (RATE rec/s)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ipfixkit/infomodel.h"
#include "ipfixkit/template.h"
#include "ipfixkit/writer.h"

typedef struct options {
    const char *host;
    const char *port;
    unsigned udp, tcp;
    unsigned long long records;
    unsigned per_message;
    unsigned odid_base;
    unsigned gap_every;
    unsigned pace_us;
    unsigned source_port_base;   /* UDP exporters bind base+i (0: any) */
    unsigned source_hosts;       /* exporter i binds 127.0.0.(1 + i % H) (0: any) */
    unsigned layout_shift;       /* exporter i uses layout (i + shift) % 4 */
    bool replay_tcp;
    size_t message_size;
    double rate;
} options;

static void die(const char *what) {
    fprintf(stderr, "ipfix_test_sender: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(const options *o, bool tcp, unsigned source_port, unsigned index) {
    struct addrinfo hints = {0}, *res;
    hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "ipfix_test_sender: %s: %s\n", o->host, gai_strerror(rc));
        exit(1);
    }
    int fd = socket(res->ai_family, res->ai_socktype, 0);
    if (fd < 0) die("socket");
    int size = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (source_port || (o->source_hosts && res->ai_family == AF_INET)) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_storage local;
        memcpy(&local, res->ai_addr, res->ai_addrlen);
        if (local.ss_family == AF_INET) {
            uint32_t host = o->source_hosts ? (0x7F000001u + index % o->source_hosts) : INADDR_ANY;
            ((struct sockaddr_in *)&local)->sin_addr.s_addr = htonl(host);
            ((struct sockaddr_in *)&local)->sin_port = htons((uint16_t)source_port);
        } else {
            ((struct sockaddr_in6 *)&local)->sin6_addr = in6addr_any;
            ((struct sockaddr_in6 *)&local)->sin6_port = htons((uint16_t)source_port);
        }
        if (bind(fd, (struct sockaddr *)&local, res->ai_addrlen) < 0) die("bind");
    }
    if (connect(fd, res->ai_addr, res->ai_addrlen) < 0) die("connect");
    freeaddrinfo(res);
    return fd;
}

static void send_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOBUFS || errno == EAGAIN) {
                usleep(50);
                continue;
            }
            die("send");
        }
        p += w;
        n -= (size_t)w;
    }
}

/* ------------------------------------------------------------ exporters */

typedef struct exporter {
    int fd;
    bool tcp;
    unsigned index, layout;
    uint32_t odid;
    ipfix_writer *writer;
    ipfix_template *tmpl;
    unsigned messages;       /* data messages emitted */
    unsigned drop_message;   /* 1-based data message to drop, 0 none */
    unsigned long long sent, skipped;
} exporter;

/* Four layouts of template 256: same ID, different fields and orders. */
static const ipfix_field_spec LAYOUTS[4][6] = {
    {{0, 8, 4}, {0, 1, 8}, {0, 2, 8}, {0, 10, 4}, {0, 0, 0}, {0, 0, 0}},
    {{0, 10, 4}, {0, 4, 1}, {0, 8, 4}, {0, 2, 4}, {0, 1, 8}, {0, 0, 0}},
    {{0, 1, 8}, {0, 7, 2}, {0, 11, 2}, {0, 8, 4}, {0, 10, 4}, {0, 2, 8}},
    {{0, 2, 8}, {0, 10, 4}, {0, 1, 4}, {0, 8, 4}, {0, 0, 0}, {0, 0, 0}},
};
static const unsigned LAYOUT_FIELDS[4] = {4, 5, 6, 4};

static ipfix_status exporter_sink(void *context, const uint8_t *message, size_t length) {
    exporter *e = context;
    bool data = ipfix_writer_message_records(e->writer) > 0;
    if (data) {
        e->messages++;
        if (e->messages == e->drop_message) {
            e->skipped += ipfix_writer_message_records(e->writer);
            return IPFIX_OK; /* deliberate gap: counted in sequence, never sent */
        }
        e->sent += ipfix_writer_message_records(e->writer);
    }
    send_all(e->fd, message, length);
    return IPFIX_OK;
}

static void put_be(uint8_t *p, uint64_t v, unsigned n) {
    for (unsigned i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void encode_record(const exporter *e, unsigned long long serial, uint8_t *out,
                          size_t *length) {
    size_t pos = 0;
    for (unsigned f = 0; f < LAYOUT_FIELDS[e->layout]; f++) {
        const ipfix_field_spec *s = &LAYOUTS[e->layout][f];
        uint64_t v = 0;
        switch (s->id) {
        case 8: v = 0x0A000000u | e->index; break;         /* sourceIPv4Address */
        case 1: v = serial; break;                         /* octetDeltaCount */
        case 2: v = 1 + serial % 7; break;                 /* packetDeltaCount */
        case 10: v = e->odid; break;                       /* ingressInterface */
        case 4: v = 17; break;
        case 7: v = 1000 + e->index; break;
        case 11: v = 4739; break;
        }
        put_be(out + pos, v, s->length);
        pos += s->length;
    }
    *length = pos;
}

static int run_exporters(const options *o, const ipfix_infomodel *model) {
    unsigned n = o->udp + o->tcp;
    exporter *ex = calloc(n, sizeof *ex);
    if (!ex) die("calloc");
    for (unsigned i = 0; i < n; i++) {
        exporter *e = &ex[i];
        e->index = i;
        e->tcp = i >= o->udp;
        e->layout = (i + o->layout_shift) % 4;
        e->odid = o->odid_base + i;
        e->drop_message = (o->gap_every && i % o->gap_every == 0) ? 3 : 0;
        e->fd = connect_to(o, e->tcp, (!e->tcp && o->source_port_base) ? o->source_port_base + i : 0,
                           i);
        ipfix_error err;
        if (ipfix_template_new(model, 256, 0, LAYOUTS[e->layout], (uint16_t)LAYOUT_FIELDS[e->layout],
                               &e->tmpl, &err) != IPFIX_OK) {
            fprintf(stderr, "template: %s\n", err.detail);
            return 1;
        }
        ipfix_writer_config wc = {.max_message_size = 1400, .observation_domain_id = e->odid};
        e->writer = ipfix_writer_new(&wc, exporter_sink, e);
        if (!e->writer) die("writer");
        ipfix_writer_add_template(e->writer, e->tmpl);
        ipfix_writer_flush(e->writer);
    }
    /* Round-robin: each exporter sends one message per round. */
    unsigned long long serial = 0;
    for (unsigned long long done = 0; done < o->records; done += o->per_message) {
        for (unsigned i = 0; i < n; i++) {
            exporter *e = &ex[i];
            for (unsigned k = 0; k < o->per_message && done + k < o->records; k++) {
                uint8_t rec[64];
                size_t len;
                encode_record(e, serial + k, rec, &len);
                if (ipfix_writer_add_record(e->writer, e->tmpl, rec, len) != IPFIX_OK) {
                    fprintf(stderr, "add_record failed\n");
                    return 1;
                }
            }
            ipfix_writer_flush(e->writer);
        }
        serial += o->per_message;
        if (o->pace_us) usleep(o->pace_us);
    }
    unsigned long long sent = 0, skipped = 0;
    for (unsigned i = 0; i < n; i++) {
        exporter *e = &ex[i];
        printf("exporter %s %u %u sent %llu skipped %llu\n", e->tcp ? "tcp" : "udp",
               (unsigned)e->odid, e->layout, e->sent, e->skipped);
        sent += e->sent;
        skipped += e->skipped;
        ipfix_writer_free(e->writer);
        ipfix_template_unref(e->tmpl);
        if (e->tcp) shutdown(e->fd, SHUT_WR);
    }
    for (unsigned i = 0; i < n; i++) close(ex[i].fd);
    printf("total exporters %u sent %llu skipped %llu\n", n, sent, skipped);
    free(ex);
    return 0;
}

/* ------------------------------------------------------------ replay */

typedef struct stream {
    uint8_t *data;
    size_t length, capacity;
    size_t *offsets;           /* message starts */
    uint32_t *records;         /* data records per message */
    size_t count, cap;
    ipfix_writer *writer;
} stream;

static ipfix_status stream_sink(void *context, const uint8_t *message, size_t length) {
    stream *s = context;
    if (s->length + length > s->capacity) {
        s->capacity = (s->capacity + length) * 2;
        s->data = realloc(s->data, s->capacity);
        if (!s->data) die("realloc");
    }
    if (s->count == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->offsets = realloc(s->offsets, s->cap * sizeof *s->offsets);
        s->records = realloc(s->records, s->cap * sizeof *s->records);
        if (!s->offsets || !s->records) die("realloc");
    }
    s->offsets[s->count] = s->length;
    s->records[s->count] = ipfix_writer_message_records(s->writer);
    s->count++;
    memcpy(s->data + s->length, message, length);
    s->length += length;
    return IPFIX_OK;
}

static const ipfix_field_spec FLOW_FIELDS[] = {
    {0, 8, 4},   {0, 12, 4},  {0, 7, 2},   {0, 11, 2},  {0, 4, 1},   {0, 6, 1},
    {0, 10, 4},  {0, 14, 4},  {0, 2, 8},   {0, 1, 8},   {0, 152, 8}, {0, 153, 8},
};

static void build_stream(const options *o, const ipfix_infomodel *model, stream *s) {
    ipfix_template *t;
    ipfix_error err;
    if (ipfix_template_new(model, 256, 0, FLOW_FIELDS,
                           (uint16_t)(sizeof FLOW_FIELDS / sizeof FLOW_FIELDS[0]), &t,
                           &err) != IPFIX_OK) {
        fprintf(stderr, "template: %s\n", err.detail);
        exit(1);
    }
    ipfix_writer_config wc = {.max_message_size = o->message_size,
                              .observation_domain_id = o->odid_base};
    s->writer = ipfix_writer_new(&wc, stream_sink, s);
    if (!s->writer) die("writer");
    ipfix_writer_add_template(s->writer, t);
    ipfix_writer_flush(s->writer);
    uint64_t ms = (uint64_t)time(NULL) * 1000u;
    for (unsigned i = 0; i < 200000; i++) {
        uint8_t r[64], *p = r;
        put_be(p, 0x0A000000u + (i * 2654435761u >> 12), 4), p += 4;
        put_be(p, 0xC0A80000u + (i & 0xFFFF), 4), p += 4;
        put_be(p, 1024 + i % 50000, 2), p += 2;
        put_be(p, (i % 3) ? 443 : 53, 2), p += 2;
        put_be(p, (i % 3) ? 6 : 17, 1), p += 1;
        put_be(p, (i % 3) ? 0x1b : 0, 1), p += 1;
        put_be(p, 1 + i % 4, 4), p += 4;
        put_be(p, 5, 4), p += 4;
        put_be(p, 1 + i % 20, 8), p += 8;
        put_be(p, 64 + i % 1400, 8), p += 8;
        put_be(p, ms - 60000 + i % 1000, 8), p += 8;
        put_be(p, ms - 1000 + i % 1000, 8), p += 8;
        ipfix_writer_add_record(s->writer, t, r, (size_t)(p - r));
    }
    ipfix_writer_flush(s->writer);
    ipfix_template_unref(t);
}

static int run_replay(const options *o, const ipfix_infomodel *model) {
    stream s = {0};
    build_stream(o, model, &s);
    int fd = connect_to(o, o->replay_tcp, 0, 0);
    uint32_t sequence = 0;
    unsigned long long records = 0, messages = 0;
    double start = now_seconds();
    /* Message 0 is the template; data messages 1..count-1 loop. */
    size_t i = 0;
    enum { BATCH = 64 };
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    while (records < o->records) {
        unsigned b = 0;
        size_t first = i, last_end = 0;
        while (b < BATCH && records < o->records) {
            size_t end = i + 1 < s.count ? s.offsets[i + 1] : s.length;
            uint8_t *m = s.data + s.offsets[i];
            put_be(m + 4, (uint32_t)time(NULL), 4);
            put_be(m + 8, sequence, 4);
            sequence += s.records[i];
            records += s.records[i];
            iov[b].iov_base = m;
            iov[b].iov_len = end - s.offsets[i];
            memset(&msgs[b].msg_hdr, 0, sizeof msgs[b].msg_hdr);
            msgs[b].msg_hdr.msg_iov = &iov[b];
            msgs[b].msg_hdr.msg_iovlen = 1;
            last_end = end;
            b++;
            messages++;
            bool wrap = i + 1 == s.count;
            i = wrap ? 1 : i + 1;
            if (wrap) break; /* keep each TCP write contiguous */
        }
        if (o->replay_tcp) {
            send_all(fd, s.data + s.offsets[first], last_end - s.offsets[first]);
        } else {
            unsigned sent = 0;
            while (sent < b) {
                int n = sendmmsg(fd, msgs + sent, b - sent, 0);
                if (n < 0) {
                    if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR ||
                        errno == ECONNREFUSED) {
                        usleep(20);
                        continue;
                    }
                    die("sendmmsg");
                }
                sent += (unsigned)n;
            }
        }
        if (o->rate > 0) {
            double due = start + (double)records / o->rate;
            double t = now_seconds();
            if (due > t) usleep((useconds_t)((due - t) * 1e6));
        }
    }
    double elapsed = now_seconds() - start;
    if (o->replay_tcp) {
        /* Wait until the collector has acknowledged every byte (bounded). */
        for (int wait = 0; wait < 10000; wait++) {
            int pending = 0;
            if (ioctl(fd, SIOCOUTQ, &pending) < 0 || pending == 0) break;
            usleep(1000);
        }
        shutdown(fd, SHUT_WR);
    }
    close(fd);
    printf("sent %llu records %llu messages in %.3f s (%.0f rec/s)\n", records, messages,
           elapsed, (double)records / elapsed);
    free(s.data);
    free(s.offsets);
    free(s.records);
    ipfix_writer_free(s.writer);
    return 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: ipfix_test_sender exporters --host H --port P [--udp N] [--tcp M] "
            "[--records R] [--per-message K] [--odid-base B] [--gap-every G] [--pace-us U] "
            "[--source-port-base S] [--layout-shift L] [--source-hosts H]\n"
            "       ipfix_test_sender replay --udp|--tcp --host H --port P --records N "
            "[--odid O] [--message-size S] [--rate R]\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    options o = {.host = "127.0.0.1", .port = "4739", .records = 100, .per_message = 10,
                 .odid_base = 1, .message_size = 1400};
    bool replay = strcmp(argv[1], "replay") == 0;
    if (!replay && strcmp(argv[1], "exporters") != 0) usage();
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--tcp") && replay) o.replay_tcp = true;
        else if (!strcmp(a, "--udp") && replay) o.replay_tcp = false;
        else if (!v) usage();
        else if (!strcmp(a, "--host")) o.host = argv[++i];
        else if (!strcmp(a, "--port")) o.port = argv[++i];
        else if (!strcmp(a, "--udp")) o.udp = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--tcp")) o.tcp = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--records")) o.records = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--per-message")) o.per_message = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--odid-base") || !strcmp(a, "--odid")) o.odid_base = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--gap-every")) o.gap_every = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--pace-us")) o.pace_us = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--source-port-base")) o.source_port_base = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--layout-shift")) o.layout_shift = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--source-hosts")) o.source_hosts = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--message-size")) o.message_size = (size_t)atoi(argv[++i]);
        else if (!strcmp(a, "--rate")) o.rate = atof(argv[++i]);
        else usage();
    }
    if (o.per_message == 0) o.per_message = 1;
    ipfix_infomodel *model = ipfix_infomodel_new();
    if (!model) die("model");
    int rc = replay ? run_replay(&o, model) : run_exporters(&o, model);
    ipfix_infomodel_free(model);
    return rc;
}
