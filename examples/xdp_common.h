/* SPDX-License-Identifier: MIT */
/*
 * xdp_common.h - what labyrinth-xdp-tx and labyrinth-xdp-rx share.
 *
 * AF_XDP moves whole Ethernet frames, so the datagrams of udp_common.h
 * travel inside hand-made Ethernet + IPv4 + UDP headers.  Both programs
 * use a labyrinth pool as the UMEM: one contiguous region
 * (labyrinth_region()) whose pages are the frames; a frame's UMEM address
 * is page - base.
 */
#ifndef LAB_XDP_COMMON_H
#define LAB_XDP_COMMON_H

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udp_common.h"

#define XDP_FRAME_SIZE 4096u
#define XDP_ETH_LEN 14u
#define XDP_IP_LEN 20u
#define XDP_UDP_LEN 8u
#define XDP_HDRS (XDP_ETH_LEN + XDP_IP_LEN + XDP_UDP_LEN)
#define XDP_DEFAULT_PORT 9000
/* The addresses the netns script gives the two ends (TEST-NET-1, only
 * ever inside the namespaces it creates). */
#define XDP_DEFAULT_SRC "192.0.2.1"
#define XDP_DEFAULT_DST "192.0.2.2"

/* The Internet checksum of len bytes (len even). */
static inline uint16_t xdp_ip_csum(const unsigned char *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline void xdp_put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static inline uint16_t xdp_get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Ethernet + IPv4 + UDP headers in front of a payload of plen bytes. */
static inline void xdp_put_headers(unsigned char *f, const unsigned char dst_mac[6],
				   const unsigned char src_mac[6], uint32_t saddr, uint32_t daddr,
				   uint16_t sport, uint16_t dport, uint32_t plen)
{
	unsigned char *ip = f + XDP_ETH_LEN, *udp = ip + XDP_IP_LEN;

	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	xdp_put16(f + 12, 0x0800);
	memset(ip, 0, XDP_IP_LEN);
	ip[0] = 0x45;
	xdp_put16(ip + 2, (uint16_t)(XDP_IP_LEN + XDP_UDP_LEN + plen));
	xdp_put16(ip + 6, 0x4000); /* don't fragment */
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &saddr, 4); /* network order already */
	memcpy(ip + 16, &daddr, 4);
	xdp_put16(ip + 10, xdp_ip_csum(ip, XDP_IP_LEN));
	xdp_put16(udp, sport);
	xdp_put16(udp + 2, dport);
	xdp_put16(udp + 4, (uint16_t)(XDP_UDP_LEN + plen));
	xdp_put16(udp + 6, 0); /* no UDP checksum (allowed on IPv4): ours is inside */
}

/*
 * Find the UDP payload of an IPv4 frame: 0 and *payload, *plen, *sport,
 * *dport when the frame is IPv4/UDP with consistent lengths; -1 for
 * anything else (ARP, IPv6, fragments, a frame cut short).
 */
static inline int xdp_parse_udp(const unsigned char *f, uint32_t len, const unsigned char **payload,
				uint32_t *plen, uint16_t *sport, uint16_t *dport)
{
	const unsigned char *ip = f + XDP_ETH_LEN, *udp;
	uint32_t ihl, tot, ulen;

	if (len < XDP_HDRS || xdp_get16(f + 12) != 0x0800 || (ip[0] >> 4) != 4 ||
	    ip[9] != IPPROTO_UDP || (xdp_get16(ip + 6) & 0x3fff))
		return -1;
	ihl = (ip[0] & 15u) * 4;
	tot = xdp_get16(ip + 2);
	if (ihl < XDP_IP_LEN || tot > len - XDP_ETH_LEN || tot < ihl + XDP_UDP_LEN)
		return -1;
	udp = ip + ihl;
	ulen = xdp_get16(udp + 4);
	if (ulen < XDP_UDP_LEN || ulen > tot - ihl)
		return -1;
	*sport = xdp_get16(udp);
	*dport = xdp_get16(udp + 2);
	*payload = udp + XDP_UDP_LEN;
	*plen = ulen - XDP_UDP_LEN;
	return 0;
}

/* The IPv4 header checksum of a frame xdp_parse_udp() accepted: true if
 * it is right (the sum over the header, its checksum field included, is
 * 0xffff). */
static inline bool xdp_ip_csum_ok(const unsigned char *f)
{
	const unsigned char *ip = f + XDP_ETH_LEN;

	return xdp_ip_csum(ip, (ip[0] & 15u) * 4) == 0;
}

/* The MAC address of a local interface; -1 (errno set) if unknown. */
static inline int xdp_if_mac(const char *ifname, unsigned char mac[6])
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ret = ioctl(fd, SIOCGIFHWADDR, &ifr);
	close(fd);
	if (ret < 0)
		return -1;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

static inline int xdp_parse_mac(const char *s, unsigned char mac[6])
{
	unsigned int b[6], i;
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -1;
	for (i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -1;
		mac[i] = (unsigned char)b[i];
	}
	return 0;
}

/* Does this kernel have AF_XDP (CONFIG_XDP_SOCKETS)?  1 yes, 0 no. */
static inline int xdp_sockets_available(void)
{
	int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return errno == EAFNOSUPPORT ? 0 : 1; /* EPERM etc.: it exists */
	close(fd);
	return 1;
}

#endif
