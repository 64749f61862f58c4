// Package netlink collects per-interface counters from the Linux kernel for
// one network namespace, for hosts where the probe agent runs next to the
// traffic instead of asking a switch over gNMI.
//
// Polling is the hot path, so it costs one RTM_GETSTATS dump that asks the
// kernel for nothing but IFLA_STATS_LINK_64, read into a buffer that lives as
// long as the Collector and decoded in place. Interface names, operational
// state and speed change rarely, so they are not fetched per poll: one link
// listing at start, RTNLGRP_LINK notifications afterwards, and a full listing
// every Options.ResyncInterval in case a notification was lost. Pending
// notifications are applied before each poll, so a poll taken after a link
// change has returned already sees it.
//
// # Counter mapping
//
// The kernel's struct rtnl_link_stats64 maps onto the Apstra names like this:
//
//	rx_bytes              rx_bytes
//	tx_bytes              tx_bytes
//	rx_unicast_packets    rx_packets - multicast (0 if a driver reports more multicast than packets)
//	rx_multicast_packets  multicast
//	tx_unicast_packets    tx_packets
//	rx_error_packets      rx_errors
//	tx_error_packets      tx_errors
//	rx_discard_packets    rx_dropped + rx_missed_errors
//	tx_discard_packets    tx_dropped
//	fcs_errors            rx_crc_errors
//	alignment_errors      rx_frame_errors
//
// Linux counts received multicast but cannot tell unicast from broadcast, and
// keeps no transmit multicast or broadcast count at all. So rx_unicast_packets
// includes received broadcasts, tx_unicast_packets is every transmitted packet,
// and rx_broadcast_packets, tx_broadcast_packets and tx_multicast_packets are
// left invalid rather than reported as zero. symbol_errors, runts and giants
// have no honest kernel counterpart (rx_length_errors mixes short and long
// frames) and are left invalid too.
//
// rx_missed_errors is added to the discards because it counts frames the NIC
// dropped for lack of host buffers, which is what a switch's in-discards count;
// the kernel keeps it apart from rx_dropped only because /proc/net/dev already
// folds the two together. Both are monotonic, so their sum is too.
//
// # Operational state
//
// IFLA_OPERSTATE "up" is up and "unknown" is unknown (loopback, ifb and tun
// devices report unknown even while passing traffic, because their drivers
// have no carrier to report). Every other state — down, lowerlayerdown,
// dormant, testing, notpresent — is down: the interface cannot pass traffic.
//
// # Speed
//
// Speed comes from the legacy SIOCETHTOOL ETHTOOL_GSET ioctl on a socket
// opened in the collected namespace. Drivers without ethtool link settings
// (loopback, ifb, most tunnels) and links without carrier report 0, unknown.
//
// # Interfaces, generations and layouts
//
// Every interface the kernel returns stats for is reported, loopback included:
// it is a real interface whose counters show local traffic, and a consumer
// can drop it by name. Interfaces appear in the order of the kernel's dump
// (by ifindex).
//
// An interface's Generation is a fresh value whenever the object behind the
// name may have changed: it was created or re-created (new ifindex), renamed,
// or one of its counters went backwards. Batch.Layout changes whenever the
// sequence of (ifindex, name) pairs changes, which includes a delete and
// re-create under the same name between two polls; a consumer that reindexes
// on a Layout change therefore never carries state across objects.
package netlink
