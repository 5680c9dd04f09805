#!/bin/sh
# The image's entrypoint. Before `edgek server` or `edgek agent` it points iptables,
# iptables-save and iptables-restore (and the ip6tables ones) at the backend the kernel and the
# host use, as K3s's image does: EDGEK_IPTABLES_MODE=nft or legacy forces one; by default
# (auto) nft, unless the kernel lacks nf_tables, or only legacy has rules (the container shares
# a network namespace with a host that uses legacy iptables). It also gives the container a
# machine ID if it has none. Then it execs edgek.
set -eu

# rules BACKEND counts the rules iptables-BACKEND-save shows (0 when it fails).
rules() {
	{ "iptables-$1-save" 2>/dev/null || true; } | grep -c '^-' || true
}

pick() {
	case "${EDGEK_IPTABLES_MODE:-auto}" in
	nft | legacy) echo "$EDGEK_IPTABLES_MODE" ;;
	auto)
		if ! iptables-nft -w -L -n >/dev/null 2>&1; then
			echo legacy
		elif [ "$(rules legacy)" -gt 0 ] && [ "$(rules nft)" -eq 0 ]; then
			echo legacy
		else
			echo nft
		fi
		;;
	*)
		echo "edgek-entrypoint: EDGEK_IPTABLES_MODE=$EDGEK_IPTABLES_MODE: want nft, legacy or auto" >&2
		exit 2
		;;
	esac
}

case "${1:-}" in
server | agent)
	if ! command -v iptables-nft >/dev/null || ! command -v iptables-legacy >/dev/null; then
		echo "edgek-entrypoint: iptables-nft or iptables-legacy missing: the image lacks the iptables package (build/image/packages.txt)" >&2
		exit 1
	fi
	mode=$(pick)
	for cmd in iptables ip6tables; do
		update-alternatives --quiet --set "$cmd" "/usr/sbin/$cmd-$mode"
	done
	echo "edgek-entrypoint: iptables backend $mode" >&2
	# The kubelet reports the machine ID; a container runtime does not provide one.
	if [ ! -s /etc/machine-id ]; then
		tr -d - </proc/sys/kernel/random/uuid >/etc/machine-id
	fi
	;;
esac
exec /usr/local/bin/edgek "$@"
