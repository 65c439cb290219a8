/*
 * capture.c — extraction of IPFIX Messages from pcap/pcapng captures (see
 * capture.h): link, IP and transport parsing, IPv4 fragment reassembly, TCP
 * stream reassembly with resynchronisation, and message framing.
 *
 * Flow of one ipfix_capture_next() call: queued items (problems, stream
 * ends) go first; then a TCP stream with buffered bytes is framed until it
 * has no complete message left; then the next packet is read. A UDP datagram
 * is yielded straight from libpcap's buffer; TCP bytes are copied into the
 * stream's buffer and yielded from there. At the end of the file every TCP
 * stream is flushed (held segments after a gap included) and closed.
 */
#include "ipfixkit/capture.h"

#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ipfixkit/reader.h"
#include "ipfixkit/render.h"
#include "ipfixkit/value.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

#define DEFAULT_TCP_PENDING (1u << 20)
#define DEFAULT_MAX_STREAMS 65536u
#define QUEUE_SIZE 32u
#define FRAG_SLOTS 16u
#define FRAG_MAX 65535u

#define RULE_TRUNCATED "capture: packet truncated (captured length shorter than headers)"
#define RULE_NON_IPFIX "RFC 7011 §3.1: payload is not an IPFIX Message (version must be 10)"
#define RULE_GAP "RFC 7011 §10.4: TCP stream has a gap (bytes not captured)"
#define RULE_RESYNC "RFC 7011 §10.4: bytes skipped to resynchronise on a message header"
#define RULE_MIDSTREAM "capture: TCP stream started before the capture; bytes before the first message skipped"
#define RULE_STREAM_END "RFC 7011 §10.4: TCP stream ended inside a message"

/* ------------------------------------------------------------ structures */

typedef struct tcp_segment {
    struct tcp_segment *next;
    uint32_t seq;
    uint32_t length;
    uint8_t data[];
} tcp_segment;

typedef struct stream {
    struct stream *next_in_bucket;
    ipfix_flow_key key;
    uint64_t id;
    bool tcp;
    /* TCP state */
    bool seq_known;
    bool synced;            /* buf[start] is a message boundary */
    bool closing;           /* FIN reached or end of file: close when framed */
    bool fin_known;
    bool first_bytes;       /* no payload buffered yet */
    bool had_payload;       /* STREAM_END only for streams the caller saw */
    uint32_t isn;
    uint32_t next_seq;      /* sequence number of the next in-order byte */
    uint32_t fin_seq;
    uint8_t *buf;
    size_t start, length, capacity;
    uint64_t stream_offset; /* stream byte offset of buf[start] */
    tcp_segment *held;      /* out-of-order segments, sorted by seq */
    size_t held_bytes;
} stream;

typedef struct frag_slot {
    bool used;
    uint8_t src[4], dst[4];
    uint16_t ip_id;
    uint8_t protocol;
    uint64_t last_packet;
    size_t total;           /* payload length, 0 until the last fragment is seen */
    size_t blocks_received; /* 8-byte blocks */
    uint8_t *data;          /* FRAG_MAX bytes */
    uint8_t bitmap[FRAG_MAX / 8 / 8 + 1];
} frag_slot;

struct ipfix_capture {
    pcap_t *pcap;
    int linktype;
    ipfix_capture_config config;
    ipfix_capture_stats stats;
    uint64_t packet_number;
    int64_t seconds;
    uint32_t nanoseconds;
    /* streams: chained hash table */
    stream **buckets;
    size_t bucket_count;    /* power of two */
    size_t stream_count;
    uint64_t next_stream_id;
    bool stream_limit_reported;
    bool link_reported;     /* unsupported link type reported once */
    /* item queue (problems, stream ends) */
    ipfix_capture_item queue[QUEUE_SIZE];
    size_t queue_head, queue_count;
    stream *framing;        /* stream being framed */
    bool eof;
    size_t flush_bucket;
    frag_slot frags[FRAG_SLOTS];
};

void ipfix_capture_config_default(ipfix_capture_config *config) {
    memset(config, 0, sizeof *config);
    config->ports[0] = IPFIX_PORT_DEFAULT;
    config->port_count = 1;
    config->tcp_pending_max = DEFAULT_TCP_PENDING;
    config->max_streams = DEFAULT_MAX_STREAMS;
}

size_t ipfix_flow_key_format(const ipfix_flow_key *key, char *out, size_t size) {
    char tmp[128];
    char *w = tmp;
    for (int side = 0; side < 2; side++) {
        const uint8_t *a = side ? key->dst : key->src;
        if (side) *w++ = '>';
        if (key->family == 6) {
            *w++ = '[';
            w += ipfix_format_ipv6(w, a);
            *w++ = ']';
        } else {
            w += ipfix_format_ipv4(w, a);
        }
        *w++ = ':';
        w += ipfix_format_u64(w, side ? key->dst_port : key->src_port);
    }
    const char *t = key->transport == IPFIX_TRANSPORT_TCP ? "/tcp" : "/udp";
    memcpy(w, t, 4);
    w += 4;
    size_t n = (size_t)(w - tmp);
    if (!size) return 0;
    if (n >= size) n = size - 1;
    memcpy(out, tmp, n);
    out[n] = 0;
    return n;
}

/* ----------------------------------------------------------------- queue */

static ipfix_capture_item *queue_push(ipfix_capture *c) {
    if (c->queue_count == QUEUE_SIZE) return NULL; /* counted in stats only */
    ipfix_capture_item *item = &c->queue[(c->queue_head + c->queue_count++) % QUEUE_SIZE];
    memset(item, 0, sizeof *item);
    item->packet_number = c->packet_number;
    item->seconds = c->seconds;
    item->nanoseconds = c->nanoseconds;
    return item;
}

static void problem(ipfix_capture *c, const stream *s, ipfix_status status, size_t offset,
                    const char *rule, const char *format, ...)
    __attribute__((format(printf, 6, 7)));

static void problem(ipfix_capture *c, const stream *s, ipfix_status status, size_t offset,
                    const char *rule, const char *format, ...) {
    c->stats.problems++;
    ipfix_capture_item *item = queue_push(c);
    if (!item) return;
    item->kind = IPFIX_CAPTURE_PROBLEM;
    if (s) {
        item->stream_id = s->id;
        item->flow = s->key;
    }
    char detail[sizeof item->error.detail];
    va_list ap;
    va_start(ap, format);
    vsnprintf(detail, sizeof detail, format, ap);
    va_end(ap);
    ipfix_error_set(&item->error, status, offset, rule, "%s", detail);
}

/* --------------------------------------------------------------- streams */

static size_t key_hash(const ipfix_flow_key *k, size_t mask) {
    uint64_t h = 0xcbf29ce484222325ull;
    const uint8_t *p = (const uint8_t *)k;
    for (size_t i = 0; i < sizeof *k; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return (size_t)(h ^ (h >> 29)) & mask;
}

static stream *stream_find(ipfix_capture *c, const ipfix_flow_key *k) {
    for (stream *s = c->buckets[key_hash(k, c->bucket_count - 1)]; s; s = s->next_in_bucket)
        if (memcmp(&s->key, k, sizeof *k) == 0) return s;
    return NULL;
}

static void streams_grow(ipfix_capture *c) {
    size_t count = c->bucket_count * 2;
    stream **buckets = calloc(count, sizeof *buckets);
    if (!buckets) return; /* keep the longer chains */
    for (size_t i = 0; i < c->bucket_count; i++) {
        stream *s = c->buckets[i];
        while (s) {
            stream *next = s->next_in_bucket;
            size_t b = key_hash(&s->key, count - 1);
            s->next_in_bucket = buckets[b];
            buckets[b] = s;
            s = next;
        }
    }
    free(c->buckets);
    c->buckets = buckets;
    c->bucket_count = count;
    c->flush_bucket = 0;
}

static stream *stream_create(ipfix_capture *c, const ipfix_flow_key *k) {
    if (c->stream_count >= c->config.max_streams) {
        c->stats.streams_dropped++;
        if (!c->stream_limit_reported) {
            c->stream_limit_reported = true;
            problem(c, NULL, IPFIX_ERR_LIMIT, 0, "capture: too many streams",
                    "limit %zu; packets of further streams are ignored", c->config.max_streams);
        }
        return NULL;
    }
    stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->key = *k;
    s->id = ++c->next_stream_id;
    s->tcp = k->transport == IPFIX_TRANSPORT_TCP;
    s->first_bytes = true;
    if (s->tcp) c->stats.tcp_streams++;
    if (c->stream_count >= c->bucket_count) streams_grow(c);
    size_t b = key_hash(k, c->bucket_count - 1);
    s->next_in_bucket = c->buckets[b];
    c->buckets[b] = s;
    c->stream_count++;
    return s;
}

static void stream_free(stream *s) {
    while (s->held) {
        tcp_segment *next = s->held->next;
        free(s->held);
        s->held = next;
    }
    free(s->buf);
    free(s);
}

static void stream_remove(ipfix_capture *c, stream *s) {
    stream **pp = &c->buckets[key_hash(&s->key, c->bucket_count - 1)];
    while (*pp && *pp != s) pp = &(*pp)->next_in_bucket;
    if (*pp) *pp = s->next_in_bucket;
    c->stream_count--;
    if (c->framing == s) c->framing = NULL;
    stream_free(s);
}

/* Close a TCP stream: report an unfinished message, queue STREAM_END. */
static void stream_close(ipfix_capture *c, stream *s) {
    size_t left = s->length - s->start;
    if (left)
        problem(c, s, IPFIX_ERR_TRUNCATED, (size_t)s->stream_offset, RULE_STREAM_END,
                "%zu bytes of an incomplete message", left);
    if (s->held_bytes)
        problem(c, s, IPFIX_ERR_TRUNCATED, (size_t)s->stream_offset, RULE_GAP,
                "%zu bytes held after a gap dropped", s->held_bytes);
    ipfix_capture_item *item = s->had_payload ? queue_push(c) : NULL;
    if (item) {
        item->kind = IPFIX_CAPTURE_STREAM_END;
        item->stream_id = s->id;
        item->flow = s->key;
    }
    stream_remove(c, s);
}

/* ------------------------------------------------------- TCP reassembly */

static bool buffer_append(stream *s, const uint8_t *data, size_t n) {
    if (s->start && s->start == s->length) {
        s->start = s->length = 0;
    } else if (s->start > 65536 || (s->start && s->length + n > s->capacity)) {
        memmove(s->buf, s->buf + s->start, s->length - s->start);
        s->length -= s->start;
        s->start = 0;
    }
    if (s->length + n > s->capacity) {
        size_t capacity = s->capacity ? s->capacity : 16384;
        while (capacity < s->length + n) capacity *= 2;
        uint8_t *buf = realloc(s->buf, capacity);
        if (!buf) return false;
        s->buf = buf;
        s->capacity = capacity;
    }
    memcpy(s->buf + s->length, data, n);
    s->length += n;
    return true;
}

static void check_fin(stream *s) {
    if (s->fin_known && s->next_seq == s->fin_seq) s->closing = true;
}

/* Append in-order bytes, then every held segment that became in order. */
static void tcp_append(ipfix_capture *c, stream *s, const uint8_t *data, size_t n) {
    if (n && !buffer_append(s, data, n)) {
        problem(c, s, IPFIX_ERR_NOMEM, (size_t)s->stream_offset, RULE_GAP,
                "out of memory: %zu bytes dropped", n);
        s->synced = false;
    }
    s->next_seq += (uint32_t)n;
    while (s->held) {
        tcp_segment *g = s->held;
        int32_t rel = (int32_t)(g->seq - s->next_seq);
        if (rel > 0) break;
        s->held = g->next;
        s->held_bytes -= g->length;
        uint32_t overlap = (uint32_t)-rel;
        if (overlap < g->length) {
            if (!buffer_append(s, g->data + overlap, g->length - overlap)) s->synced = false;
            s->next_seq += g->length - overlap;
        }
        free(g);
    }
    check_fin(s);
}

/* Bytes between next_seq and the first held segment will never come (or we
 * stopped waiting): report the gap, drop the unfinished message before it,
 * and continue at the held data, resynchronising. */
static void tcp_skip_gap(ipfix_capture *c, stream *s, uint32_t to) {
    uint32_t missing = to - s->next_seq;
    c->stats.tcp_gaps++;
    c->stats.tcp_gap_bytes += missing;
    size_t dropped = s->length - s->start;
    problem(c, s, IPFIX_ERR_TRUNCATED, (size_t)(s->stream_offset + dropped), RULE_GAP,
            "%u bytes missing; %zu bytes of an unfinished message dropped", missing, dropped);
    s->stream_offset += dropped + missing;
    s->start = s->length;
    s->next_seq = to;
    s->synced = false;
    tcp_append(c, s, NULL, 0);
}

static void tcp_hold(ipfix_capture *c, stream *s, uint32_t seq, const uint8_t *data, size_t n) {
    while (s->held_bytes + n > c->config.tcp_pending_max && s->held) {
        /* Stop waiting for the missing bytes. */
        int32_t rel = (int32_t)(seq - s->held->seq);
        tcp_skip_gap(c, s, rel < 0 ? seq : s->held->seq);
        if ((int32_t)(seq - s->next_seq) <= 0) {
            uint32_t overlap = s->next_seq - seq;
            if (overlap < n) tcp_append(c, s, data + overlap, n - overlap);
            return;
        }
    }
    if (s->held_bytes + n > c->config.tcp_pending_max) {
        tcp_skip_gap(c, s, seq);
        tcp_append(c, s, data, n);
        return;
    }
    tcp_segment *g = malloc(sizeof *g + n);
    if (!g) return;
    g->seq = seq;
    g->length = (uint32_t)n;
    memcpy(g->data, data, n);
    tcp_segment **pp = &s->held;
    while (*pp && (int32_t)((*pp)->seq - seq) <= 0) pp = &(*pp)->next;
    g->next = *pp;
    *pp = g;
    s->held_bytes += n;
    c->stats.tcp_out_of_order++;
}

static void tcp_segment_in(ipfix_capture *c, stream *s, uint32_t seq, const uint8_t *data,
                           size_t n) {
    if (!s->seq_known) { /* start of the connection not captured */
        s->seq_known = true;
        s->next_seq = seq;
        s->synced = false;
    }
    int32_t rel = (int32_t)(seq - s->next_seq);
    if (rel < 0) { /* retransmission or overlap */
        uint32_t overlap = (uint32_t)-rel;
        if (overlap >= n) {
            c->stats.tcp_retransmitted++;
            return;
        }
        data += overlap;
        n -= overlap;
        seq += overlap;
        rel = 0;
    }
    if (rel > 0) {
        tcp_hold(c, s, seq, data, n);
        return;
    }
    tcp_append(c, s, data, n);
}

/* Could a message start at p? (version 10, length >= 16, a valid first Set
 * header; when the whole message is there, Sets tiling it exactly.)
 * 1 yes, 0 no, -1 need more bytes to tell. */
static int plausible_header(const uint8_t *p, size_t available) {
    if (available < 4) return -1;
    if (ipfix_get_u16(p) != IPFIX_VERSION) return 0;
    size_t length = ipfix_get_u16(p + 2);
    if (length < IPFIX_MESSAGE_HEADER_SIZE) return 0;
    if (length == IPFIX_MESSAGE_HEADER_SIZE) return 1;
    if (length < IPFIX_MESSAGE_HEADER_SIZE + IPFIX_SET_HEADER_SIZE) return 0;
    if (available < IPFIX_MESSAGE_HEADER_SIZE + IPFIX_SET_HEADER_SIZE) return -1;
    size_t pos = IPFIX_MESSAGE_HEADER_SIZE;
    while (pos < length) {
        if (length - pos < IPFIX_SET_HEADER_SIZE) return 0;
        if (available < pos + IPFIX_SET_HEADER_SIZE) return 1; /* first set(s) fine */
        uint16_t id = ipfix_get_u16(p + pos), set_length = ipfix_get_u16(p + pos + 2);
        if ((id != IPFIX_SET_ID_TEMPLATE && id != IPFIX_SET_ID_OPTIONS_TEMPLATE &&
             id < IPFIX_SET_ID_DATA_MIN) ||
            set_length < IPFIX_SET_HEADER_SIZE || set_length > length - pos)
            return 0;
        pos += set_length;
    }
    return 1;
}

/* Find the next plausible header in an unsynchronised stream. Returns the
 * number of bytes that can be dropped; *found set when a header starts
 * right after them. */
static size_t resync_scan(const uint8_t *p, size_t available, bool *found) {
    *found = false;
    for (size_t i = 0; i + 1 < available; i++) {
        if (p[i] != 0 || p[i + 1] != IPFIX_VERSION) continue;
        int verdict = plausible_header(p + i, available - i);
        if (verdict == 1) {
            *found = true;
            return i;
        }
        if (verdict < 0) return i; /* wait for more bytes */
    }
    return available ? available - 1 : 0; /* last byte may start "00 0a" */
}

enum { FRAME_DONE = 0, FRAME_MESSAGE = 1, FRAME_AGAIN = 2 };

/* Next complete message of `s`, or a problem queued (call again), or done. */
static int tcp_frame(ipfix_capture *c, stream *s, ipfix_capture_item *item) {
    for (;;) {
        const uint8_t *p = s->buf + s->start;
        size_t available = s->length - s->start;
        if (!s->synced) {
            bool found;
            size_t skip = resync_scan(p, available, &found);
            if (s->closing && !found) skip = available;
            if (skip) {
                c->stats.skipped_bytes += skip;
                problem(c, s, IPFIX_ERR_MALFORMED, (size_t)s->stream_offset,
                        s->first_bytes ? RULE_MIDSTREAM : RULE_RESYNC, "%zu bytes skipped",
                        skip);
                s->start += skip;
                s->stream_offset += skip;
            }
            if (available) s->first_bytes = false;
            if (found) {
                s->synced = true;
                c->stats.tcp_resyncs++;
            }
            if (skip) return FRAME_AGAIN; /* let the problem out first */
            if (!found) break;
            continue;
        }
        if (!available) break;
        size_t length;
        ipfix_error err;
        ipfix_error_clear(&err);
        ipfix_status st = ipfix_message_frame(p, available, &length, &err);
        if (st == IPFIX_OK) {
            s->first_bytes = false;
            item->kind = IPFIX_CAPTURE_MESSAGE;
            item->stream_id = s->id;
            item->flow = s->key;
            item->data = p;
            item->length = length;
            s->start += length;
            s->stream_offset += length;
            c->stats.messages++;
            c->stats.message_bytes += length;
            return FRAME_MESSAGE;
        }
        if (st == IPFIX_ERR_TRUNCATED) break;
        /* Not a message header: resynchronise. */
        c->stats.non_ipfix++;
        problem(c, s, IPFIX_ERR_MALFORMED, (size_t)s->stream_offset + err.offset,
                err.rule ? err.rule : RULE_NON_IPFIX, "%s", err.detail);
        s->synced = false;
        s->first_bytes = false;
        return FRAME_AGAIN;
    }
    if (s->closing) {
        stream_close(c, s);
        return FRAME_AGAIN;
    }
    c->framing = NULL;
    return FRAME_DONE;
}

/* --------------------------------------------------- IPv4 fragments */

/* RFC 791 §3.2: collect fragments by (src, dst, id, protocol) in 8-byte
 * blocks; complete when the last fragment and every block before it are in.
 * A few datagrams at once; the oldest is given up when a slot is needed. */
static const uint8_t *ipv4_reassemble(ipfix_capture *c, const uint8_t *ip, size_t header_length,
                                      size_t total_length, size_t *payload_length) {
    uint16_t frag = ipfix_get_u16(ip + 6);
    size_t offset = (size_t)(frag & 0x1fff) * 8;
    bool more = (frag & 0x2000) != 0;
    size_t n = total_length - header_length;
    const uint8_t *data = ip + header_length;
    c->stats.fragments++;
    if (offset + n > FRAG_MAX || (more && (n % 8 || !n))) {
        c->stats.fragments_skipped++;
        return NULL;
    }
    frag_slot *slot = NULL, *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < FRAG_SLOTS; i++) {
        frag_slot *f = &c->frags[i];
        if (!f->used) {
            if (!free_slot) free_slot = f;
            continue;
        }
        if (f->ip_id == ipfix_get_u16(ip + 4) && f->protocol == ip[9] &&
            !memcmp(f->src, ip + 12, 4) && !memcmp(f->dst, ip + 16, 4)) {
            slot = f;
            break;
        }
        if (!oldest || f->last_packet < oldest->last_packet) oldest = f;
    }
    if (!slot) {
        slot = free_slot;
        if (!slot) {
            slot = oldest;
            c->stats.fragments_skipped += slot->blocks_received ? 1 : 0;
        }
        uint8_t *buf = slot->data;
        memset(slot, 0, sizeof *slot);
        slot->data = buf ? buf : malloc(FRAG_MAX);
        if (!slot->data) {
            c->stats.fragments_skipped++;
            return NULL;
        }
        slot->used = true;
        slot->ip_id = ipfix_get_u16(ip + 4);
        slot->protocol = ip[9];
        memcpy(slot->src, ip + 12, 4);
        memcpy(slot->dst, ip + 16, 4);
    }
    slot->last_packet = c->packet_number;
    memcpy(slot->data + offset, data, n);
    for (size_t b = offset / 8; b < (offset + n + 7) / 8; b++) {
        if (slot->bitmap[b / 8] & (1u << (b % 8))) continue;
        slot->bitmap[b / 8] |= (uint8_t)(1u << (b % 8));
        slot->blocks_received++;
    }
    if (!more) slot->total = offset + n;
    if (!slot->total || slot->blocks_received < (slot->total + 7) / 8) return NULL;
    /* Complete; all blocks below total are set (blocks past it mean garbage). */
    slot->used = false;
    c->stats.reassembled++;
    *payload_length = slot->total;
    return slot->data;
}

/* ------------------------------------------------------ packet parsing */

static bool port_selected(const ipfix_capture *c, uint16_t a, uint16_t b) {
    for (size_t i = 0; i < c->config.port_count; i++)
        if (c->config.ports[i] == a || c->config.ports[i] == b) return true;
    return false;
}

/* One UDP datagram: 1 when *item holds a message. */
static int handle_udp(ipfix_capture *c, ipfix_flow_key *key, const uint8_t *p, size_t n,
                      size_t packet_offset, ipfix_capture_item *item) {
    if (n < 8) {
        c->stats.truncated++;
        problem(c, NULL, IPFIX_ERR_TRUNCATED, packet_offset, RULE_TRUNCATED, "UDP header");
        return 0;
    }
    key->src_port = ipfix_get_u16(p);
    key->dst_port = ipfix_get_u16(p + 2);
    if (!port_selected(c, key->src_port, key->dst_port)) return 0;
    c->stats.matched_packets++;
    size_t udp_length = ipfix_get_u16(p + 4);
    if (udp_length < 8 || udp_length > n) {
        c->stats.truncated++;
        problem(c, NULL, IPFIX_ERR_TRUNCATED, packet_offset, RULE_TRUNCATED,
                "UDP length %zu, %zu bytes captured", udp_length, n);
        return 0;
    }
    key->transport = IPFIX_TRANSPORT_UDP;
    stream *s = stream_find(c, key);
    if (!s) s = stream_create(c, key);
    if (!s) return 0;
    const uint8_t *payload = p + 8;
    size_t length = udp_length - 8;
    /* RFC 7011 §10.3.3: one message per datagram; the reader checks its
     * length against the datagram. */
    if (length < 4 || ipfix_get_u16(payload) != IPFIX_VERSION) {
        c->stats.non_ipfix++;
        problem(c, s, IPFIX_ERR_MALFORMED, packet_offset + 8, RULE_NON_IPFIX,
                "%zu-byte UDP payload, first bytes %02x%02x", length, length ? payload[0] : 0,
                length > 1 ? payload[1] : 0);
        return 0;
    }
    item->kind = IPFIX_CAPTURE_MESSAGE;
    item->stream_id = s->id;
    item->flow = s->key;
    item->data = payload;
    item->length = length;
    c->stats.messages++;
    c->stats.message_bytes += length;
    return 1;
}

static void handle_tcp(ipfix_capture *c, ipfix_flow_key *key, const uint8_t *p, size_t n,
                       size_t packet_offset) {
    if (n < 20) {
        c->stats.truncated++;
        problem(c, NULL, IPFIX_ERR_TRUNCATED, packet_offset, RULE_TRUNCATED, "TCP header");
        return;
    }
    key->src_port = ipfix_get_u16(p);
    key->dst_port = ipfix_get_u16(p + 2);
    if (!port_selected(c, key->src_port, key->dst_port)) return;
    c->stats.matched_packets++;
    size_t header_length = (size_t)(p[12] >> 4) * 4;
    if (header_length < 20 || header_length > n) {
        c->stats.malformed++;
        problem(c, NULL, IPFIX_ERR_MALFORMED, packet_offset + 12,
                "RFC 9293 §3.1: TCP data offset out of range", "%zu bytes", header_length);
        return;
    }
    key->transport = IPFIX_TRANSPORT_TCP;
    uint32_t seq = ipfix_get_u32(p + 4);
    uint8_t flags = p[13];
    bool syn = flags & 0x02, fin = flags & 0x01, rst = flags & 0x04;
    const uint8_t *payload = p + header_length;
    size_t length = n - header_length;
    stream *s = stream_find(c, key);
    if (rst) {
        ipfix_flow_key reverse = *key;
        memcpy(reverse.src, key->dst, 16);
        memcpy(reverse.dst, key->src, 16);
        reverse.src_port = key->dst_port;
        reverse.dst_port = key->src_port;
        stream *r = stream_find(c, &reverse);
        if (s) {
            s->closing = true;
            c->framing = s;
        }
        if (r && r != s) {
            /* The other direction is closed right away. */
            if (c->framing == r) c->framing = NULL;
            r->closing = true;
            stream_close(c, r);
        }
        return;
    }
    if (syn) {
        if (s && s->seq_known && s->isn == seq) return; /* retransmitted SYN */
        if (s) { /* a new connection on the same ports */
            s->closing = true;
            stream_close(c, s);
        }
        s = stream_create(c, key);
        if (!s) return;
        s->seq_known = true;
        s->isn = seq;
        s->next_seq = seq + 1; /* the SYN occupies one sequence number */
        s->synced = true;
        s->first_bytes = false;
        seq++;
    } else if (!s) {
        if (!length) return; /* pure ACKs and lone FINs create nothing */
        s = stream_create(c, key);
        if (!s) return;
    }
    if (length) {
        s->had_payload = true;
        tcp_segment_in(c, s, seq, payload, length);
    }
    if (fin && !s->fin_known) {
        s->fin_known = true;
        s->fin_seq = seq + (uint32_t)length;
        if (!s->seq_known) {
            s->seq_known = true;
            s->next_seq = s->fin_seq;
        }
        check_fin(s);
    }
    if (s->length > s->start || s->closing) c->framing = s;
}

/* IPv4 or IPv6 packet at p (n bytes captured). 1 when *item holds a message. */
static int handle_ip(ipfix_capture *c, const uint8_t *p, size_t n, size_t offset,
                     ipfix_capture_item *item) {
    ipfix_flow_key key;
    memset(&key, 0, sizeof key);
    if (n < 1) goto truncated;
    const uint8_t *payload;
    size_t length;
    uint8_t protocol;
    size_t header_length;
    if (p[0] >> 4 == 4) {
        if (n < 20) goto truncated;
        header_length = (size_t)(p[0] & 15) * 4;
        size_t total = ipfix_get_u16(p + 2);
        if (header_length < 20 || total < header_length) {
            c->stats.malformed++;
            problem(c, NULL, IPFIX_ERR_MALFORMED, offset, "RFC 791 §3.1: bad IPv4 header",
                    "header %zu, total length %zu", header_length, total);
            return 0;
        }
        if (total > n) goto truncated;
        key.family = 4;
        memcpy(key.src, p + 12, 4);
        memcpy(key.dst, p + 16, 4);
        protocol = p[9];
        if (protocol != 6 && protocol != 17) return 0;
        if (ipfix_get_u16(p + 6) & 0x3fff) { /* MF set or fragment offset non-zero */
            payload = ipv4_reassemble(c, p, header_length, total, &length);
            if (!payload) return 0;
            offset = 0; /* offsets now refer to the reassembled payload */
        } else {
            payload = p + header_length;
            length = total - header_length;
        }
        offset += header_length;
    } else if (p[0] >> 4 == 6) {
        if (n < 40) goto truncated;
        size_t total = 40 + (size_t)ipfix_get_u16(p + 4);
        if (total > n) goto truncated;
        key.family = 6;
        memcpy(key.src, p + 8, 16);
        memcpy(key.dst, p + 24, 16);
        protocol = p[6];
        size_t pos = 40;
        /* RFC 8200 §4: skip extension headers up to the transport header. */
        for (;;) {
            if (protocol == 0 || protocol == 43 || protocol == 60 || protocol == 51) {
                if (total - pos < 8) goto truncated;
                size_t ext = protocol == 51 ? ((size_t)p[pos + 1] + 2) * 4
                                            : ((size_t)p[pos + 1] + 1) * 8;
                if (total - pos < ext) goto truncated;
                protocol = p[pos];
                pos += ext;
                continue;
            }
            if (protocol == 44) { /* fragment: not reassembled */
                c->stats.fragments++;
                c->stats.fragments_skipped++;
                return 0;
            }
            break;
        }
        if (protocol != 6 && protocol != 17) return 0;
        payload = p + pos;
        length = total - pos;
        offset += pos;
    } else {
        c->stats.non_ip++;
        return 0;
    }
    if (protocol == 17) return handle_udp(c, &key, payload, length, offset, item);
    handle_tcp(c, &key, payload, length, offset);
    return 0;
truncated:
    c->stats.truncated++;
    problem(c, NULL, IPFIX_ERR_TRUNCATED, offset, RULE_TRUNCATED, "IP header or payload");
    return 0;
}

/* Strip the link layer; 1 when *item holds a message. */
static int handle_packet(ipfix_capture *c, const uint8_t *p, size_t n,
                         ipfix_capture_item *item) {
    size_t offset = 0;
    uint16_t ethertype = 0;
    switch (c->linktype) {
    case DLT_EN10MB:
        if (n < 14) goto truncated;
        ethertype = ipfix_get_u16(p + 12);
        offset = 14;
        /* 802.1Q, 802.1ad and the old QinQ type: 4 bytes each */
        while (ethertype == 0x8100 || ethertype == 0x88a8 || ethertype == 0x9100) {
            if (n < offset + 4) goto truncated;
            ethertype = ipfix_get_u16(p + offset + 2);
            offset += 4;
        }
        break;
    case DLT_LINUX_SLL:
        if (n < 16) goto truncated;
        ethertype = ipfix_get_u16(p + 14);
        offset = 16;
        break;
    case DLT_LINUX_SLL2:
        if (n < 20) goto truncated;
        ethertype = ipfix_get_u16(p);
        offset = 20;
        break;
    case DLT_NULL:
    case DLT_LOOP: {
        if (n < 4) goto truncated;
        /* Address family in host order of the capturing machine (NULL) or
         * network order (LOOP): accept either. AF_INET6 differs by OS. */
        uint32_t be = ipfix_get_u32(p), le = __builtin_bswap32(be);
        uint32_t af = c->linktype == DLT_LOOP ? be : (be < 256 ? be : le);
        offset = 4;
        if (af == 2) ethertype = 0x0800;
        else if (af == 10 || af == 24 || af == 28 || af == 30) ethertype = 0x86dd;
        break;
    }
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
        return handle_ip(c, p, n, 0, item);
    default:
        c->stats.non_ip++;
        if (!c->link_reported) {
            c->link_reported = true;
            const char *name = pcap_datalink_val_to_name(c->linktype);
            problem(c, NULL, IPFIX_ERR_UNSUPPORTED, 0, "capture: link type not supported",
                    "%s (%d); its packets are skipped", name ? name : "unknown", c->linktype);
        }
        return 0;
    }
    if (ethertype != 0x0800 && ethertype != 0x86dd) {
        c->stats.non_ip++;
        return 0;
    }
    return handle_ip(c, p + offset, n - offset, offset, item);
truncated:
    c->stats.truncated++;
    problem(c, NULL, IPFIX_ERR_TRUNCATED, 0, RULE_TRUNCATED, "link header");
    return 0;
}

/* ------------------------------------------------------------- public */

static ipfix_status capture_init(pcap_t *pcap, const ipfix_capture_config *config,
                                 ipfix_capture **out, ipfix_error *err) {
    ipfix_capture *c = calloc(1, sizeof *c);
    if (!c) {
        pcap_close(pcap);
        return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "capture", "out of memory");
    }
    c->pcap = pcap;
    c->linktype = pcap_datalink(pcap);
    if (config) c->config = *config;
    else ipfix_capture_config_default(&c->config);
    if (!c->config.port_count) {
        c->config.ports[0] = IPFIX_PORT_DEFAULT;
        c->config.port_count = 1;
    }
    if (c->config.port_count > IPFIX_CAPTURE_MAX_PORTS)
        c->config.port_count = IPFIX_CAPTURE_MAX_PORTS;
    if (!c->config.tcp_pending_max) c->config.tcp_pending_max = DEFAULT_TCP_PENDING;
    if (!c->config.max_streams) c->config.max_streams = DEFAULT_MAX_STREAMS;
    c->bucket_count = 256;
    c->buckets = calloc(c->bucket_count, sizeof *c->buckets);
    if (!c->buckets) {
        ipfix_capture_close(c);
        return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "capture", "out of memory");
    }
    *out = c;
    return IPFIX_OK;
}

ipfix_status ipfix_capture_open(const char *path, const ipfix_capture_config *config,
                                ipfix_capture **out, ipfix_error *err) {
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pcap = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO,
                                                           errbuf);
    if (!pcap) return ipfix_error_set(err, IPFIX_ERR_IO, 0, "libpcap", "%s", errbuf);
    return capture_init(pcap, config, out, err);
}

ipfix_status ipfix_capture_open_stream(FILE *stream_file, const ipfix_capture_config *config,
                                       ipfix_capture **out, ipfix_error *err) {
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pcap = pcap_fopen_offline_with_tstamp_precision(stream_file,
                                                            PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!pcap) {
        fclose(stream_file);
        return ipfix_error_set(err, IPFIX_ERR_IO, 0, "libpcap", "%s", errbuf);
    }
    return capture_init(pcap, config, out, err);
}

void ipfix_capture_close(ipfix_capture *c) {
    if (!c) return;
    for (size_t i = 0; c->buckets && i < c->bucket_count; i++) {
        stream *s = c->buckets[i];
        while (s) {
            stream *next = s->next_in_bucket;
            stream_free(s);
            s = next;
        }
    }
    free(c->buckets);
    for (size_t i = 0; i < FRAG_SLOTS; i++) free(c->frags[i].data);
    if (c->pcap) pcap_close(c->pcap);
    free(c);
}

void ipfix_capture_get_stats(const ipfix_capture *c, ipfix_capture_stats *stats) {
    *stats = c->stats;
}

const char *ipfix_capture_link_name(const ipfix_capture *c) {
    const char *name = pcap_datalink_val_to_name(c->linktype);
    return name ? name : "unknown";
}

/* End of file: close every TCP stream, flushing held data past gaps. */
static bool flush_next_stream(ipfix_capture *c) {
    for (; c->flush_bucket < c->bucket_count; c->flush_bucket++) {
        for (stream *s = c->buckets[c->flush_bucket]; s; s = s->next_in_bucket) {
            if (!s->tcp) continue;
            while (s->held) tcp_skip_gap(c, s, s->held->seq);
            s->closing = true;
            c->framing = s;
            return true;
        }
    }
    return false;
}

ipfix_status ipfix_capture_next(ipfix_capture *c, ipfix_capture_item *item) {
    for (;;) {
        if (c->queue_count) {
            *item = c->queue[c->queue_head];
            c->queue_head = (c->queue_head + 1) % QUEUE_SIZE;
            c->queue_count--;
            return IPFIX_OK;
        }
        if (c->framing) {
            memset(item, 0, sizeof *item);
            item->packet_number = c->packet_number;
            item->seconds = c->seconds;
            item->nanoseconds = c->nanoseconds;
            if (tcp_frame(c, c->framing, item) == FRAME_MESSAGE) return IPFIX_OK;
            continue;
        }
        if (c->eof) {
            if (flush_next_stream(c)) continue;
            return IPFIX_END;
        }
        struct pcap_pkthdr *header;
        const u_char *data;
        int rc = pcap_next_ex(c->pcap, &header, &data);
        if (rc == PCAP_ERROR_BREAK) {
            c->eof = true;
            continue;
        }
        if (rc != 1) {
            memset(item, 0, sizeof *item);
            item->packet_number = c->packet_number;
            ipfix_error_set(&item->error, IPFIX_ERR_IO, 0, "libpcap", "%s",
                            pcap_geterr(c->pcap));
            return IPFIX_ERR_IO;
        }
        c->packet_number++;
        c->stats.packets++;
        c->seconds = header->ts.tv_sec;
        c->nanoseconds = (uint32_t)header->ts.tv_usec; /* nanosecond precision requested */
        memset(item, 0, sizeof *item);
        item->packet_number = c->packet_number;
        item->seconds = c->seconds;
        item->nanoseconds = c->nanoseconds;
        /* A packet yielding a UDP message queues no problem, so order holds. */
        if (handle_packet(c, data, header->caplen, item)) return IPFIX_OK;
    }
}
