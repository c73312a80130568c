/* SPDX-License-Identifier: MIT */
/*
 * udp_common.h - what labyrinth-tx writes and labyrinth-rx checks.
 *
 * Every datagram labyrinth-tx sends starts with a struct udp_hdr: a magic
 * number, the flow (one per sending socket), a per-flow sequence number
 * 0, 1, 2, ..., the datagram's total length and a checksum.  The rest is
 * payload.  The checksum covers the payload and is bound to the header:
 *
 *     csum = udp_payload_csum(payload, len - sizeof(hdr)) ^ udp_hdr_mix(hdr)
 *
 * so a page that carried another packet, a truncated datagram or a header
 * glued to the wrong payload all fail.  Both ends run on the same host (or
 * the same kind of host), so the fields are in host byte order.
 */
#ifndef LAB_UDP_COMMON_H
#define LAB_UDP_COMMON_H

#include <stdint.h>
#include <string.h>

#include "example_common.h"

#define UDP_MAGIC 0x4c414231u /* "LAB1" */
#define UDP_DEFAULT_PORT 9000
#define UDP_MAX_FLOWS 4096
#define UDP_MAX_PAYLOAD 65507 /* the largest IPv4 UDP datagram */

struct udp_hdr {
	uint32_t magic;
	uint32_t flow; /* sender's flow (socket) number */
	uint64_t seq;  /* per flow: 0, 1, 2, ... */
	uint32_t len;  /* whole datagram, header included */
	uint32_t pad;
	uint64_t csum; /* udp_payload_csum(payload) ^ udp_hdr_mix(...) */
};

/* A 64-bit Fletcher-style sum over the payload, 4 bytes at a time.  It is
 * the receiver's "processing": it reads every byte of every packet. */
static inline uint64_t udp_payload_csum(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t a = 1, b = 0;
	uint32_t w;

	while (len >= 4) {
		memcpy(&w, p, 4);
		a += w;
		b += a;
		p += 4;
		len -= 4;
	}
	if (len) {
		w = 0;
		memcpy(&w, p, len);
		a += w;
		b += a;
	}
	return a ^ (b << 32 | b >> 32);
}

/* Ties the checksum to the header (splitmix64 finaliser). */
static inline uint64_t udp_hdr_mix(uint32_t flow, uint64_t seq, uint32_t len)
{
	uint64_t z = seq * 0x9e3779b97f4a7c15ull ^ ((uint64_t)flow << 32 | len);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
