#!/bin/sh
# SPDX-License-Identifier: MIT
#
# xdp_netns.sh - the AF_XDP test bench: two network namespaces joined by a
# veth pair, nothing else touched.
#
#   sh examples/xdp_netns.sh up [TAG]     create (after clearing a stale one)
#   sh examples/xdp_netns.sh down [TAG]   remove (also after a crash)
#   sh examples/xdp_netns.sh names [TAG]  print the names as shell variables
#
# Namespace lab-xa-TAG holds lxa-TAG (192.0.2.1, 02:00:00:00:00:0a), the
# sender's side; lab-xb-TAG holds lxb-TAG (192.0.2.2, 02:00:00:00:00:0b),
# where labyrinth-xdp-rx attaches.  192.0.2.0/24 is TEST-NET-1: it exists
# only inside these namespaces.  Static neighbour entries on both sides,
# because the receiver's XDP program takes every frame, ARP included.
# "up" first clears what a killed run may have left: the namespaces, and
# an XDP program attached by other means (labyrinth-xdp-rx attaches
# through a BPF link, which the kernel removes when the receiver dies).
# Needs root and iproute2.  TAG defaults to "demo" (at most 10 characters).
set -eu

cmd=${1:-}
tag=${2:-demo}
case $tag in
*[!A-Za-z0-9_]* | ???????????*) echo "xdp_netns.sh: bad tag '$tag' (1-10 letters, digits, _)" >&2; exit 2 ;;
esac
NS_A=lab-xa-$tag
NS_B=lab-xb-$tag
IF_A=lxa-$tag
IF_B=lxb-$tag
MAC_A=02:00:00:00:00:0a
MAC_B=02:00:00:00:00:0b
IP_A=192.0.2.1
IP_B=192.0.2.2

down() {
	for pair in "$NS_A:$IF_A" "$NS_B:$IF_B"; do
		ns=${pair%%:*}
		dev=${pair#*:}
		if ip netns list 2>/dev/null | grep -qw "$ns"; then
			# a program attached with ip link outlives its process
			ip -n "$ns" link set dev "$dev" xdp off 2>/dev/null || true
			ip netns del "$ns" 2>/dev/null || true
		fi
	done
}

# side NS DEV IP PEER_IP PEER_MAC: one end, addressed and up
side() {
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
	ip -n "$1" link set dev lo up
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$1" link set dev "$2" up
	ip -n "$1" neigh replace "$4" lladdr "$5" dev "$2" nud permanent
}

up() {
	down
	ip netns add "$NS_A"
	ip netns add "$NS_B"
	ip -n "$NS_A" link add "$IF_A" address $MAC_A type veth \
		peer name "$IF_B" netns "$NS_B" address $MAC_B
	side "$NS_A" "$IF_A" $IP_A $IP_B $MAC_B
	side "$NS_B" "$IF_B" $IP_B $IP_A $MAC_A
}

case $cmd in
up) up ;;
down) down ;;
names)
	echo "NS_A=$NS_A NS_B=$NS_B IF_A=$IF_A IF_B=$IF_B IP_A=$IP_A IP_B=$IP_B MAC_A=$MAC_A MAC_B=$MAC_B" ;;
*) echo "usage: xdp_netns.sh up|down|names [TAG]" >&2; exit 2 ;;
esac
