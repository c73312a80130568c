/* SPDX-License-Identifier: MIT */
/*
 * Description: frame_send IFACE N - N Ethernet frames of 128 bytes
 * (broadcast, ethertype 0x88b5, the local experimental one) out of IFACE
 * through an AF_PACKET socket; prints how many the kernel took.  The
 * sender of dpdk_run.sh's af_packet case.
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = ETH_ALEN };
	unsigned char frame[128];
	long i, n, sent = 0;
	int fd;

	if (argc != 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: frame_send IFACE N\n");
		return 2;
	}
	to.sll_ifindex = (int)if_nametoindex(argv[1]);
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (!to.sll_ifindex || fd < 0) {
		perror(argv[1]);
		return 1;
	}
	memset(frame, 0, sizeof(frame));
	memset(frame, 0xff, ETH_ALEN);                          /* broadcast */
	memcpy(frame + ETH_ALEN, "\x02\x00\x00\x00\x00\x01", ETH_ALEN); /* local */
	frame[12] = 0x88;
	frame[13] = 0xb5;
	memset(to.sll_addr, 0xff, ETH_ALEN);
	for (i = 0; i < n; i++) {
		memcpy(frame + 14, &i, sizeof(i)); /* each frame its own */
		if (sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)) ==
		    (ssize_t)sizeof(frame))
			sent++;
		if (i % 32 == 31)
			usleep(1000); /* the receiver's ring is finite */
	}
	close(fd);
	printf("sent %ld\n", sent);
	return sent == n ? 0 : 1;
}
