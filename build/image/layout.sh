#!/bin/sh
# Lays edgek out in ROOT as the image has it: the binary and its kubectl, ctr and crictl links
# in /usr/local/bin, the entrypoint, and the directories the image declares. The Dockerfile runs
# it in its build stage and scripts/image-rootfs.sh for the e2e test, so both get the same files.
# Usage: layout.sh ROOT EDGEK_BIN
set -eu
if [ "$#" -ne 2 ] || [ ! -f "$2" ]; then
	echo "usage: $0 ROOT EDGEK_BIN (EDGEK_BIN: the built edgek binary, e.g. bin/edgek)" >&2
	exit 2
fi
root=$1
here=$(dirname "$0")
mkdir -p "$root/usr/local/bin" "$root/var/lib/edgek" "$root/etc/edgek"
cp "$2" "$root/usr/local/bin/edgek"
chmod 0755 "$root/usr/local/bin/edgek"
for name in kubectl ctr crictl; do
	ln -sf edgek "$root/usr/local/bin/$name"
done
cp "$here/entrypoint.sh" "$root/usr/local/bin/edgek-entrypoint"
chmod 0755 "$root/usr/local/bin/edgek-entrypoint"
