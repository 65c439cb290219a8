/*
 * fuzz_message_reader.c — libFuzzer target for the IPFIX Message reader
 * (reader.h), the session's template management (session.h), template
 * parsing, field location, value decoding and structured data.
 *
 * Input: one selector byte, then a byte stream of IPFIX Messages framed with
 * ipfix_message_frame() (a byte that cannot start a message is skipped). All
 * messages go into ONE session, so templates, withdrawals, held sets and
 * sequence numbers carry over from message to message. Selector bits:
 *   0-1  transport: 0 FILE, 1 UDP, 2 TCP, 3 SCTP (every template rule)
 *   2    set: no holding of data sets for missing templates (else 1024 bytes,
 *        small so that dropping the oldest held set is reachable)
 *   3    set: `now` = the message's export time (UDP lifetime 60 s applies)
 *   4    set: datagram mode, the rest of the stream trails each message
 *   5    set: at most 2 observation domains (else 16)
 *   6    set: abandon each message after its third event
 * Over SCTP each message's stream is the low 5 bits of its export time
 * (fuzz_read_message), so per-stream sequence spaces and streams past
 * max_streams are both exercised.
 * Seeds: fuzz/corpus/fuzz_message_reader (tools/make_fuzz_seeds.py).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t sel = data[0];
    ipfix_session_config cfg;
    ipfix_session_config_default(&cfg, (ipfix_transport)(sel & 3));
    cfg.template_lifetime = (sel & 3) == IPFIX_TRANSPORT_UDP ? 60 : 0;
    cfg.pending_bytes_max = (sel & 4) ? 0 : 1024;
    cfg.max_templates = 64;
    cfg.max_domains = (sel & 32) ? 2 : 16;
    bool use_now = sel & 8, datagram = sel & 16, abandon = sel & 64;

    ipfix_session *s = ipfix_session_new(fuzz_model(), &cfg);
    if (!s) return 0;
    size_t pos = 1;
    while (pos < size) {
        const uint8_t *msg = data + pos;
        size_t left = size - pos, length = 0;
        ipfix_error err;
        ipfix_status st = ipfix_message_frame(msg, left, &length, &err);
        if (st == IPFIX_ERR_MALFORMED) {
            pos++;
            continue;
        }
        if (st != IPFIX_OK) {
            /* Incomplete last message: the reader must refuse it too. */
            FUZZ_CHECK(st == IPFIX_ERR_TRUNCATED);
            ipfix_reader r;
            FUZZ_CHECK(ipfix_reader_begin(&r, s, msg, left, 0, &err) != IPFIX_OK);
            break;
        }
        FUZZ_CHECK(length >= IPFIX_MESSAGE_HEADER_SIZE && length <= left);
        uint32_t now = use_now ? ipfix_get_u32(msg + 4) : 0;
        fuzz_read_message(s, msg, length, datagram ? left : length, now, abandon, !abandon);
        pos += length;
    }
    fuzz_check_session(s);
    ipfix_session_free(s);
    return 0;
}
