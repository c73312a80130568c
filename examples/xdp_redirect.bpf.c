/* SPDX-License-Identifier: MIT */
/*
 * xdp_redirect.bpf.c - the XDP program of labyrinth-xdp-rx.
 *
 * Every frame that arrives on a queue with an AF_XDP socket in xsks_map
 * goes to that socket; without one it takes the normal path (XDP_PASS).
 * Built with clang -target bpf and embedded into labyrinth-xdp-rx, which
 * loads it itself (XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD): no bpffs, no
 * libxdp dispatcher, no file to install.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

SEC("xdp")
int lab_xsk_redirect(struct xdp_md *ctx)
{
	return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}

char _license[] SEC("license") = "Dual MIT/GPL";
