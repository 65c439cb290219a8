/*
 * reader.c — the IPFIX Message reader: header checks (RFC 7011 §3.1), Set
 * walking (§3.3), template sets applied to the session as they appear
 * (§8.1), data records yielded in place through the compiled templates, and
 * per-message sequence accounting (§3.1, per SCTP stream over SCTP). See
 * reader.h.
 *
 * The reader is a small state machine so that ipfix_reader_next() returns
 * one event per call without callbacks; the data-record path (MODE_DATA) is
 * the hot path and does one comparison and a few stores per fixed-length
 * record.
 */
#include "ipfixkit/reader.h"

#include <stdlib.h>
#include <string.h>

#include "core/session_internal.h"
#include "ipfixkit/value.h"

enum reader_mode {
    MODE_SETS = 0,     /* at a set header (r->pos) */
    MODE_DATA,         /* inside a data set with a known template */
    MODE_TEMPLATES,    /* inside a template or options template set */
    MODE_REPLAY,       /* replaying a held data set */
    MODE_TRAILING,     /* report bytes after the message, then MODE_SETS */
    MODE_SEQUENCE,     /* all sets done: sequence accounting */
    MODE_DONE
};

ipfix_status ipfix_message_header_parse(const uint8_t *p, size_t available,
                                        ipfix_message_header *h, ipfix_error *err) {
    if (available < IPFIX_MESSAGE_HEADER_SIZE)
        return ipfix_error_set(err, IPFIX_ERR_TRUNCATED, 0,
                               "RFC 7011 §3.1: message shorter than its 16-byte header",
                               "%zu bytes", available);
    h->version = ipfix_get_u16(p);
    h->length = ipfix_get_u16(p + 2);
    h->export_time = ipfix_get_u32(p + 4);
    h->sequence = ipfix_get_u32(p + 8);
    h->odid = ipfix_get_u32(p + 12);
    if (h->version != IPFIX_VERSION)
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 0,
                               "RFC 7011 §3.1: version must be 10", "version %u", h->version);
    if (h->length < IPFIX_MESSAGE_HEADER_SIZE)
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 2,
                               "RFC 7011 §3.1: message length less than 16", "length %u", h->length);
    if (h->length > available)
        return ipfix_error_set(err, IPFIX_ERR_TRUNCATED, 2,
                               "RFC 7011 §3.1: message length exceeds the data received",
                               "length %u, %zu bytes available", h->length, available);
    return IPFIX_OK;
}

ipfix_status ipfix_message_frame(const uint8_t *p, size_t available, size_t *length,
                                 ipfix_error *err) {
    if (available < 4) {
        *length = IPFIX_MESSAGE_HEADER_SIZE;
        return IPFIX_ERR_TRUNCATED;
    }
    uint16_t version = ipfix_get_u16(p), msg_length = ipfix_get_u16(p + 2);
    if (version != IPFIX_VERSION)
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 0,
                               "RFC 7011 §3.1: version must be 10", "version %u", version);
    if (msg_length < IPFIX_MESSAGE_HEADER_SIZE)
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 2,
                               "RFC 7011 §3.1: message length less than 16", "length %u", msg_length);
    *length = msg_length;
    return available >= msg_length ? IPFIX_OK : IPFIX_ERR_TRUNCATED;
}

ipfix_status ipfix_reader_begin(ipfix_reader *r, ipfix_session *session, const uint8_t *message,
                                size_t length, uint32_t now, ipfix_error *err) {
    memset(r, 0, sizeof *r);
    ipfix_status st = ipfix_message_header_parse(message, length, &r->header, err);
    if (st != IPFIX_OK) return st;
    r->domain = ipfix_session_domain(session, r->header.odid, true);
    if (!r->domain)
        return ipfix_error_set(err, IPFIX_ERR_LIMIT, 12,
                               "observation domain limit of the session reached",
                               "odid %u", r->header.odid);
    r->session = session;
    r->message = message;
    r->length = r->header.length;
    r->trailing = length - r->header.length;
    r->now = now;
    r->pos = IPFIX_MESSAGE_HEADER_SIZE;
    r->records_known = true;
    r->mode = r->trailing ? MODE_TRAILING : MODE_SETS;
    r->domain->messages++;
    r->domain->bytes += r->header.length;
    r->domain->last_export_time = r->header.export_time;
    return IPFIX_OK;
}

void ipfix_reader_set_stream(ipfix_reader *r, uint16_t stream) { r->stream = stream; }

void ipfix_reader_abandon(ipfix_reader *r) {
    free(r->held);
    r->held = NULL;
    r->mode = MODE_DONE;
}

/* ---- event builders ---- */

static ipfix_status emit_error(ipfix_reader *r, ipfix_event *ev, ipfix_status status, size_t offset,
                               const char *rule, const char *detail_format, ...)
    __attribute__((format(printf, 6, 7)));

#include <stdarg.h>
#include <stdio.h>

static ipfix_status emit_error(ipfix_reader *r, ipfix_event *ev, ipfix_status status, size_t offset,
                               const char *rule, const char *detail_format, ...) {
    memset(ev, 0, sizeof *ev);
    ev->kind = IPFIX_EVENT_ERROR;
    ev->odid = r->header.odid;
    ev->set_id = r->set_id;
    ev->offset = offset;
    ev->u.error.status = status;
    ev->u.error.offset = offset;
    ev->u.error.rule = rule;
    va_list ap;
    va_start(ap, detail_format);
    vsnprintf(ev->u.error.detail, sizeof ev->u.error.detail, detail_format, ap);
    va_end(ap);
    r->domain->malformed++;
    return IPFIX_OK;
}

static ipfix_status emit_parse_error(ipfix_reader *r, ipfix_event *ev, const ipfix_error *e,
                                     size_t base) {
    memset(ev, 0, sizeof *ev);
    ev->kind = IPFIX_EVENT_ERROR;
    ev->odid = r->header.odid;
    ev->set_id = r->set_id;
    ev->u.error = *e;
    ev->u.error.offset = base + e->offset;
    ev->offset = ev->u.error.offset;
    r->domain->malformed++;
    return IPFIX_OK;
}

static inline void emit_record(ipfix_reader *r, ipfix_event *ev, const uint8_t *data, size_t length,
                               bool replayed) {
    ev->kind = IPFIX_EVENT_RECORD;
    ev->odid = r->header.odid;
    ev->set_id = r->set_template->id;
    ev->replayed = replayed;
    ev->offset = replayed ? 0 : (size_t)(data - r->message);
    ev->u.record.tmpl = r->set_template;
    ev->u.record.data = data;
    ev->u.record.length = length;
    r->domain->data_records++;
    if (r->set_template->scope_field_count) r->domain->option_records++;
}

/* ---- sets ---- */

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

/* Bytes left in a set after its last record: padding if short and zero
 * (RFC 7011 §3.3.1), otherwise an error. Returns true if it emitted one. */
static bool check_set_tail(ipfix_reader *r, ipfix_event *ev, const uint8_t *base, size_t pos,
                           size_t end, size_t min_record) {
    size_t left = end - pos;
    if (left == 0) return false;
    if (r->set_records == 0) {
        emit_error(r, ev, IPFIX_ERR_MALFORMED, (size_t)(base + pos - r->message),
                   "RFC 7011 §3.3.2: data set too short for one record of its template",
                   "template %u needs %zu bytes, set has %zu", r->set_template->id, min_record, left);
        return true;
    }
    if (left >= min_record || !all_zero(base + pos, left)) {
        emit_error(r, ev, IPFIX_ERR_MALFORMED, (size_t)(base + pos - r->message),
                   "RFC 7011 §3.3.1: set padding must be zero and shorter than a record",
                   "%zu trailing bytes in set of template %u", left, r->set_template->id);
        return true;
    }
    return false;
}

static ipfix_status next_data_record(ipfix_reader *r, ipfix_event *ev, bool *emitted) {
    const ipfix_template *t = r->set_template;
    size_t left = r->set_end - r->record_pos;
    const uint8_t *p = r->records + r->record_pos;
    size_t length = t->min_record_length;
    bool replay = r->mode == MODE_REPLAY;
    if (left >= length && (!t->variable || ipfix_record_measure(t, p, left, &length) == IPFIX_OK)) {
        r->record_pos += length;
        r->set_records++;
        r->message_records += !replay;
        emit_record(r, ev, p, length, replay);
        *emitted = true;
        return IPFIX_OK;
    }
    /* End of the set's records. */
    *emitted = false;
    if (replay) {
        free(r->held);
        r->held = NULL;
        r->domain->held_sets_replayed++;
        r->mode = MODE_SETS; /* replay_wanted stays set: look for the next ready set */
        return IPFIX_OK;
    }
    r->mode = MODE_SETS;
    r->pos = r->set_end;
    if (t->variable && left >= t->min_record_length && !all_zero(p, left)) {
        emit_error(r, ev, IPFIX_ERR_MALFORMED, (size_t)(p - r->message),
                   "RFC 7011 §7: variable-length field runs past the end of the record's set",
                   "template %u, %zu bytes left in set", t->id, left);
        *emitted = true;
        return IPFIX_OK;
    }
    *emitted = check_set_tail(r, ev, r->records, r->record_pos, r->set_end, t->min_record_length);
    return IPFIX_OK;
}

/* Replay, one at a time, every held data set of this domain whose template
 * is now known: a template set may resolve several of them at once. */
static void start_replay_if_wanted(ipfix_reader *r) {
    ipfix_held_set *h = ipfix_session_take_ready_held_set(r->session, r->header.odid, r->now);
    if (!h) {
        r->replay_wanted = false;
        return;
    }
    r->held = h;
    r->set_template = ipfix_session_find_template(r->session, r->header.odid, h->template_id, r->now);
    r->records = h->data;
    r->record_pos = 0;
    r->set_end = h->length;
    r->set_records = 0;
    r->mode = MODE_REPLAY;
}

static ipfix_status begin_data_set(ipfix_reader *r, ipfix_event *ev, bool *emitted) {
    const ipfix_template *t = ipfix_session_find_template(r->session, r->header.odid, r->set_id, r->now);
    size_t data_start = r->set_start + IPFIX_SET_HEADER_SIZE;
    if (t) {
        r->set_template = t;
        r->records = r->message;
        r->record_pos = data_start;
        r->set_records = 0;
        r->mode = MODE_DATA;
        *emitted = false;
        return IPFIX_OK;
    }
    size_t length = r->set_end - data_start;
    r->records_known = false; /* cannot count its records: sequence re-baselines */
    r->domain->missing_template_sets++;
    r->domain->missing_template_bytes += length;
    bool held = ipfix_session_hold_set(r->session, r->header.odid, r->set_id, r->message + data_start, length);
    memset(ev, 0, sizeof *ev);
    ev->kind = IPFIX_EVENT_MISSING_TEMPLATE;
    ev->odid = r->header.odid;
    ev->set_id = r->set_id;
    ev->offset = r->set_start;
    ev->u.missing.template_id = r->set_id;
    ev->u.missing.length = length;
    ev->u.missing.held = held;
    r->pos = r->set_end;
    *emitted = true;
    return IPFIX_OK;
}

static ipfix_status next_set(ipfix_reader *r, ipfix_event *ev, bool *emitted) {
    *emitted = false;
    size_t left = r->length - r->pos;
    if (left == 0) {
        r->mode = MODE_SEQUENCE;
        return IPFIX_OK;
    }
    r->set_id = 0;
    if (left < IPFIX_SET_HEADER_SIZE) {
        r->mode = MODE_SEQUENCE;
        *emitted = true;
        return emit_error(r, ev, IPFIX_ERR_TRUNCATED, r->pos,
                          "RFC 7011 §3.3.2: set header truncated at the end of the message",
                          "%zu bytes left", left);
    }
    uint16_t set_id = ipfix_get_u16(r->message + r->pos);
    uint16_t set_length = ipfix_get_u16(r->message + r->pos + 2);
    r->set_id = set_id;
    if (set_length < IPFIX_SET_HEADER_SIZE) {
        r->mode = MODE_SEQUENCE; /* cannot find the next set: the rest of the message is lost */
        r->records_known = false;
        *emitted = true;
        return emit_error(r, ev, IPFIX_ERR_MALFORMED, r->pos + 2,
                          "RFC 7011 §3.3.2: set length less than the 4-byte set header",
                          "set ID %u, length %u", set_id, set_length);
    }
    if (set_length > left) {
        r->mode = MODE_SEQUENCE;
        r->records_known = false;
        *emitted = true;
        return emit_error(r, ev, IPFIX_ERR_MALFORMED, r->pos + 2,
                          "RFC 7011 §3.3.2: set length exceeds the message",
                          "set ID %u, length %u, %zu bytes left in message", set_id, set_length, left);
    }
    r->set_start = r->pos;
    r->set_end = r->pos + set_length;
    if (set_id >= IPFIX_SET_ID_DATA_MIN) return begin_data_set(r, ev, emitted);
    if (set_id == IPFIX_SET_ID_TEMPLATE || set_id == IPFIX_SET_ID_OPTIONS_TEMPLATE) {
        r->record_pos = r->pos + IPFIX_SET_HEADER_SIZE;
        r->set_records = 0;
        r->mode = MODE_TEMPLATES;
        return IPFIX_OK;
    }
    r->pos = r->set_end;
    *emitted = true;
    return emit_error(r, ev, IPFIX_ERR_MALFORMED, r->set_start,
                      "RFC 7011 §3.3.2: set IDs 0, 1 and 4-255 are not used; set skipped",
                      "set ID %u, length %u", set_id, set_length);
}

static void emit_withdrawal(ipfix_reader *r, ipfix_event *ev, uint16_t id, size_t offset) {
    bool options = r->set_id == IPFIX_SET_ID_OPTIONS_TEMPLATE;
    ipfix_status st = ipfix_session_withdraw(r->session, r->header.odid, id, options);
    memset(ev, 0, sizeof *ev);
    ev->kind = IPFIX_EVENT_WITHDRAWAL;
    ev->odid = r->header.odid;
    ev->set_id = r->set_id;
    ev->offset = offset;
    ev->u.withdrawal.template_id = id;
    ev->u.withdrawal.options = options;
    /* RFC 7011 §8.1: withdrawing an unknown template is ignored (and logged
     * by the caller); §8.4: withdrawals over UDP are ignored. */
    ev->u.withdrawal.ignored = st != IPFIX_OK;
    r->domain->withdrawals++;
    if (st != IPFIX_OK) r->domain->withdrawals_ignored++;
}

static ipfix_status next_template_record(ipfix_reader *r, ipfix_event *ev, bool *emitted) {
    size_t left = r->set_end - r->record_pos;
    /* RFC 7011 §3.3.1: padding is shorter than the smallest record (4 bytes
     * for a withdrawal) — accept zero bytes of any length as padding too. */
    if (left < 4 || all_zero(r->message + r->record_pos, left)) {
        r->mode = MODE_SETS;
        r->pos = r->set_end;
        *emitted = false;
        if (left > 0 && !all_zero(r->message + r->record_pos, left)) {
            *emitted = true;
            return emit_error(r, ev, IPFIX_ERR_MALFORMED, r->record_pos,
                              "RFC 7011 §3.3.1: set padding must be zero", "%zu bytes", left);
        }
        return IPFIX_OK;
    }
    *emitted = true;
    size_t offset = r->record_pos;
    bool options = r->set_id == IPFIX_SET_ID_OPTIONS_TEMPLATE;
    ipfix_template *t = NULL;
    uint16_t withdrawn = 0;
    size_t consumed = 0;
    ipfix_error e;
    ipfix_status st = ipfix_template_parse(ipfix_session_model(r->session), options,
                                           r->message + offset, left, &consumed, &t, &withdrawn, &e);
    if (st != IPFIX_OK) {
        /* The next record's start is unknown: skip the rest of the set. */
        r->mode = MODE_SETS;
        r->pos = r->set_end;
        return emit_parse_error(r, ev, &e, offset);
    }
    r->record_pos += consumed;
    if (!t) {
        if (withdrawn < IPFIX_TEMPLATE_ID_MIN && withdrawn != r->set_id)
            return emit_error(r, ev, IPFIX_ERR_MALFORMED, offset,
                              "RFC 7011 §8.1: withdrawal of a reserved Template ID (only 2 in set 2 or 3 in set 3)",
                              "template ID %u in set %u", withdrawn, r->set_id);
        emit_withdrawal(r, ev, withdrawn, offset);
        return IPFIX_OK;
    }
    ipfix_template_change change;
    uint16_t id = t->id;
    st = ipfix_session_add_template(r->session, r->header.odid, t, r->now, &change);
    ipfix_template_unref(t); /* the session holds its own reference (or none) */
    if (st != IPFIX_OK)
        return emit_error(r, ev, st, offset, "template limit of the session reached; template ignored",
                          "template %u, limit %u", id, ipfix_session_get_config(r->session)->max_templates);
    const ipfix_template *stored = ipfix_session_find_template(r->session, r->header.odid, id, 0);
    memset(ev, 0, sizeof *ev);
    ev->kind = IPFIX_EVENT_TEMPLATE;
    ev->odid = r->header.odid;
    ev->set_id = r->set_id;
    ev->offset = offset;
    ev->u.tmpl.tmpl = stored;
    ev->u.tmpl.change = change;
    r->domain->templates++;
    if (change != IPFIX_TEMPLATE_REFRESHED &&
        ipfix_session_has_held_set(r->session, r->header.odid, stored->id))
        r->replay_wanted = true;
    return IPFIX_OK;
}

static ipfix_status finish_message(ipfix_reader *r, ipfix_event *ev, bool *emitted) {
    uint64_t lost, recovered;
    bool out_of_order;
    /* RFC 7011 §3.1: over SCTP each stream has its own sequence numbers. */
    uint16_t stream =
        ipfix_session_get_config(r->session)->transport == IPFIX_TRANSPORT_SCTP ? r->stream : 0;
    uint32_t expected;
    bool known = ipfix_session_sequence_expected(r->session, r->header.odid, stream, &expected);
    ipfix_session_sequence_update(r->session, r->header.odid, stream, r->header.sequence,
                                  r->message_records, r->records_known, &lost, &out_of_order,
                                  &recovered);
    r->mode = MODE_DONE;
    *emitted = known && (lost || out_of_order);
    if (*emitted) {
        memset(ev, 0, sizeof *ev);
        ev->kind = IPFIX_EVENT_SEQUENCE;
        ev->odid = r->header.odid;
        ev->offset = 8;
        ev->u.sequence.expected = expected;
        ev->u.sequence.received = r->header.sequence;
        ev->u.sequence.stream = stream;
        ev->u.sequence.lost = lost;
        ev->u.sequence.recovered = recovered;
        ev->u.sequence.out_of_order = out_of_order;
    }
    return IPFIX_OK;
}

ipfix_status ipfix_reader_next(ipfix_reader *r, ipfix_event *ev) {
    bool emitted = false;
    for (;;) {
        switch (r->mode) {
        case MODE_DATA:
        case MODE_REPLAY:
            next_data_record(r, ev, &emitted);
            break;
        case MODE_SETS:
            if (r->replay_wanted) {
                start_replay_if_wanted(r);
                continue;
            }
            next_set(r, ev, &emitted);
            break;
        case MODE_TEMPLATES:
            next_template_record(r, ev, &emitted);
            break;
        case MODE_TRAILING:
            r->mode = MODE_SETS;
            emit_error(r, ev, IPFIX_ERR_MALFORMED, r->length,
                       "RFC 7011 §3.1: bytes after the message in the same datagram",
                       "%zu bytes ignored", r->trailing);
            return IPFIX_OK;
        case MODE_SEQUENCE:
            finish_message(r, ev, &emitted);
            break;
        default:
            ipfix_reader_abandon(r);
            return IPFIX_END;
        }
        if (emitted) return IPFIX_OK;
    }
}
