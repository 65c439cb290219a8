/*
 * pcap_reader.h — a fast reader of classic pcap files (the libpcap format,
 * micro- or nanosecond timestamps, either byte order) that reads the file
 * in large blocks and hands out packets in place: no copy and no system call
 * per packet. Used by
 * `ipfix probe -r` when the file is a classic pcap and no BPF filter is
 * given; pcapng and filters go through libpcap. Internal to ipfixkit.
 *
 * Ownership: the reader owns its buffer; a packet pointer stays valid until
 * the next ipfix_pcap_reader_next() or ipfix_pcap_reader_close().
 */
#ifndef IPFIXKIT_METER_PCAP_READER_H
#define IPFIXKIT_METER_PCAP_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfixkit/error.h"

typedef struct ipfix_pcap_reader ipfix_pcap_reader;

/* IPFIX_ERR_UNSUPPORTED when the file is not a classic pcap (e.g. pcapng),
 * IPFIX_ERR_IO when it cannot be opened or mapped. */
ipfix_status ipfix_pcap_reader_open(const char *path, ipfix_pcap_reader **out);
void ipfix_pcap_reader_close(ipfix_pcap_reader *reader);

int ipfix_pcap_reader_linktype(const ipfix_pcap_reader *reader);

/* Next packet; false at the end of the file (or at a truncated last record:
 * see ipfix_pcap_reader_truncated). */
bool ipfix_pcap_reader_next(ipfix_pcap_reader *reader, uint64_t *time_ns, const uint8_t **data,
                            uint32_t *caplen, uint32_t *wirelen);

bool ipfix_pcap_reader_truncated(const ipfix_pcap_reader *reader);
uint64_t ipfix_pcap_reader_offset(const ipfix_pcap_reader *reader);
uint64_t ipfix_pcap_reader_size(const ipfix_pcap_reader *reader);

#endif
