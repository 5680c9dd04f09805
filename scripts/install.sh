#!/bin/sh
# edgek installer: puts the edgek binary on this machine and runs it as a service, K3s style.
#
#   get=https://raw.githubusercontent.com/edgek-io/edgek/main/scripts/install.sh
#   curl -sfL $get | sh -                                           # a server
#   curl -sfL $get | sh -s - server --tls-san edge.example.org
#   curl -sfL $get | sh -s - agent --server https://10.0.0.1:6443 --token K10...
#   curl -sfL $get | EDGEK_URL=https://10.0.0.1:6443 EDGEK_TOKEN=K10... sh -
#
# The download comes from the release base URL INSTALL_EDGEK_URL, laid out as
#   $INSTALL_EDGEK_URL/channels/<channel>                 one line: the version of that channel
#   $INSTALL_EDGEK_URL/<version>/edgek-<arch>[.zst|.xz|.gz]
#   $INSTALL_EDGEK_URL/<version>/sha256sum-<arch>.txt     sha256sum lines for every file above
# with <arch> amd64 (x86_64), arm64 (aarch64) or armhf (armv7l, armv8l). A compressed form is
# fetched when the release lists one and this host has its decompressor (zstd, xz, gzip), the
# raw binary otherwise. Every download is checked against sha256sum-<arch>.txt; on a mismatch
# nothing is installed or changed. There is no switch to skip that check (K3s has none either):
# a binary checked another way is installed with INSTALL_EDGEK_BIN. Plain http:// is refused
# unless INSTALL_EDGEK_ALLOW_HTTP=true. EDGEK_DOWNLOAD_URL (one binary's URL, read by earlier
# versions of this script) is refused with a pointer to INSTALL_EDGEK_URL.
#
# Air-gapped machines: copy the binary over and run either of
#   sudo INSTALL_EDGEK_BIN=./edgek-arm64 sh install.sh             # installs that file
#   sudo INSTALL_EDGEK_SKIP_DOWNLOAD=true sh install.sh            # uses /usr/local/bin/edgek as is
# Image archives placed by hand in <data-dir>/agent/images/ (/var/lib/edgek/agent/images/) need
# nothing from this script: edgek imports them at start and whenever one is added.
#
# Re-running the script upgrades in place: the binary is replaced atomically and the service is
# restarted when the binary, unit or env file changed (KillMode=process: pods keep running), and
# always with INSTALL_EDGEK_SKIP_DOWNLOAD (the binary may have been replaced by hand). When nothing
# changed the service is only started if it is not running; INSTALL_EDGEK_FORCE_RESTART=true
# restarts it anyway.
#
# The command the service runs is `server` by default, `agent` when EDGEK_URL is set;
# INSTALL_EDGEK_EXEC and/or the script's arguments give it explicitly. A --token or
# --datastore-endpoint among them is moved to the env file (EDGEK_TOKEN,
# EDGEK_DATASTORE_ENDPOINT, mode 0600) instead of the world-readable unit.
#
# Variables read by this script (INSTALL_* are the installer's own and are not saved):
#   INSTALL_EDGEK_URL          release base URL (https://github.com/edgek-io/edgek/releases/download)
#   INSTALL_EDGEK_VERSION      version to install, e.g. v0.3.0 (default: the channel's)
#   INSTALL_EDGEK_CHANNEL      channel whose version is installed (stable)
#   INSTALL_EDGEK_ALLOW_HTTP   true: accept an http:// INSTALL_EDGEK_URL (no transport security)
#   INSTALL_EDGEK_BIN          local edgek binary to install instead of downloading (air gap)
#   INSTALL_EDGEK_SKIP_DOWNLOAD true: install the binary already at $INSTALL_EDGEK_BIN_DIR/edgek
#   INSTALL_EDGEK_SHA256       expected sha256 of the (uncompressed) binary; checked when set
#   INSTALL_EDGEK_BIN_DIR      where edgek, its symlinks, edgek-killall.sh and edgek-uninstall.sh
#                              go (/usr/local/bin)
#   INSTALL_EDGEK_SYSTEMD_DIR  where the unit and its env file go (/etc/systemd/system);
#                              systemctl is only called when this is the system's directory
#   INSTALL_EDGEK_CONFIG_DIR   edgek's config directory, removed by the uninstaller (/etc/edgek)
#   INSTALL_EDGEK_EXEC         command and flags for the service, e.g. "server --disable-agent"
#   INSTALL_EDGEK_SYMLINK      kubectl/ctr/crictl symlinks: unset = only where no other file is,
#                              force = replace other files, skip = none
#   INSTALL_EDGEK_SKIP_ENABLE  true: do not enable the service at boot
#   INSTALL_EDGEK_SKIP_START   true: do not (re)start the service
#   INSTALL_EDGEK_FORCE_RESTART true: restart the service even when nothing changed
#   INSTALL_EDGEK_SKIP_SERVICE true: install the binary only, write no service or env file
#   EDGEK_URL, EDGEK_TOKEN     server to join and its token (EDGEK_URL makes `agent` the default)
#   EDGEK_TOKEN_FILE           instead of EDGEK_TOKEN: absolute path of a file holding the token
#   EDGEK_DATA_DIR             data directory, removed by the uninstaller (/var/lib/edgek)
#   EDGEK_*                    any other flag mirror; all EDGEK_* are saved to the service's env
#                              file (mode 0600)
# The host needs what a minimal Debian, Raspberry Pi OS or Alpine has: sh and the base
# utilities (sed, awk, mktemp, uname...), curl or wget, sha256sum or shasum; zstd, xz
# and gzip are used when present. curl is preferred: it is told to follow redirects to https
# only (wget follows wherever the https server redirects).
set -e

DEFAULT_URL=https://github.com/edgek-io/edgek/releases/download
NL='
'

info() { echo "[edgek-install] $*"; }
warn() { echo "[edgek-install] WARNING: $*" >&2; }
fatal() {
	echo "[edgek-install] ERROR: $*" >&2
	exit 1
}

is_true() { [ "$1" = true ]; }

# sh_quote prints $1 as one shell word (single quotes only when needed).
sh_quote() {
	case "$1" in
	'' | *[!A-Za-z0-9_./:=,@+-]*)
		printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
		;;
	*) printf '%s' "$1" ;;
	esac
}

# sd_quote prints $1 as one word of a systemd command line: specifiers (%) and
# variables ($) are escaped, and double quotes are used when needed.
sd_quote() {
	sd_word=$(printf '%s' "$1" | sed -e 's/%/%%/g' -e 's/\$/$$/g')
	case "$1" in
	'' | *[!A-Za-z0-9_./:=,@+-]*)
		printf '"%s"' "$(printf '%s' "$sd_word" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
		;;
	*) printf '%s' "$sd_word" ;;
	esac
}

# dq_escape escapes $1 for use inside double quotes, which the shell (OpenRC sources
# the env file) and systemd's EnvironmentFile= both read the same way.
dq_escape() {
	# shellcheck disable=SC2016 # the $ is a character to escape, not an expansion
	printf '%s' "$1" | sed -e 's/[\\"`$]/\\&/g'
}

setup_vars() {
	BIN_DIR=${INSTALL_EDGEK_BIN_DIR:-/usr/local/bin}
	SYSTEMD_DIR=${INSTALL_EDGEK_SYSTEMD_DIR:-/etc/systemd/system}
	CONFIG_DIR=${INSTALL_EDGEK_CONFIG_DIR:-/etc/edgek}
	DATA_DIR=${EDGEK_DATA_DIR:-/var/lib/edgek}
	BIN="$BIN_DIR/edgek"
	UNINSTALL="$BIN_DIR/edgek-uninstall.sh"
	KILLALL="$BIN_DIR/edgek-killall.sh"
	case "${INSTALL_EDGEK_SYMLINK:-}" in
	'' | force | skip) ;;
	*) fatal "INSTALL_EDGEK_SYMLINK must be empty, 'force' or 'skip', not '$INSTALL_EDGEK_SYMLINK'" ;;
	esac
}

# SYSTEM_DIR_FN defines system_dir DIR: true if DIR (trailing slashes aside) is a directory
# of the system, which the uninstaller must never remove. The uninstaller carries it too.
# shellcheck disable=SC2016 # the function's text: it expands where it runs
SYSTEM_DIR_FN='system_dir() {
	sd_dir=$(printf "%s" "$1" | tr -s /)
	sd_dir=${sd_dir%/}
	case "${sd_dir:-/}" in
	/ | /bin | /boot | /dev | /etc | /etc/systemd | /etc/systemd/system | /etc/init.d | /home | \
		/lib | /lib32 | /lib64 | /libx32 | /media | /mnt | /opt | /proc | /root | /run | /sbin | \
		/srv | /sys | /tmp | /usr | /usr/bin | /usr/lib | /usr/lib64 | /usr/libexec | /usr/local | \
		/usr/local/bin | /usr/local/lib | /usr/local/sbin | /usr/sbin | /usr/share | /var | \
		/var/cache | /var/lib | /var/local | /var/log | /var/opt | /var/run | /var/spool | /var/tmp)
		return 0 ;;
	esac
	return 1
}'
eval "$SYSTEM_DIR_FN"

# check_dirs refuses relative directories, / itself, and (for the directories the uninstaller
# removes) system directories, before anything is written.
check_dirs() {
	for dir_var in BIN_DIR SYSTEMD_DIR CONFIG_DIR DATA_DIR; do
		dir_val=
		eval "dir_val=\$$dir_var"
		case "$dir_val" in
		/?*) ;;
		*) fatal "$dir_var must be an absolute path other than /, not '$dir_val'" ;;
		esac
		case "$dir_val" in
		*"$NL"*) fatal "$dir_var must not contain a newline" ;;
		esac
	done
	for dir_var in CONFIG_DIR DATA_DIR; do
		eval "dir_val=\$$dir_var"
		if system_dir "$dir_val"; then
			fatal "$dir_var '$dir_val' is a system directory, and the uninstaller removes $dir_var with everything in it: use a directory of edgek's own (default $(default_of "$dir_var"))"
		fi
	done
}

default_of() {
	case $1 in
	CONFIG_DIR) echo /etc/edgek ;;
	DATA_DIR) echo /var/lib/edgek ;;
	esac
}

# setup_exec sets CMD (server or agent) and leaves the command's words in "$@"-order in
# EXEC_ARGS_SD (systemd) and EXEC_ARGS_SH (shell) form, from INSTALL_EDGEK_EXEC + arguments.
setup_exec() {
	if [ -n "${INSTALL_EDGEK_EXEC:-}" ]; then
		set -f
		# shellcheck disable=SC2086 # INSTALL_EDGEK_EXEC is a list of words
		set -- $INSTALL_EDGEK_EXEC "$@"
		set +f
	fi
	case "${1:-}" in
	-* | '') CMD= ;;
	*)
		CMD=$1
		shift
		;;
	esac
	case "$CMD" in
	server | agent | '') ;;
	*) fatal "the command to install must be 'server' or 'agent', not '$CMD'" ;;
	esac
	EXEC_ARGS_SD=
	EXEC_ARGS_SH=
	KILLALL_ARGS_SH=
	exec_flag=
	for exec_arg in "$@"; do
		add_exec_arg "$exec_arg"
	done
	[ -z "$exec_flag" ] || fatal "$exec_flag needs a value"
	if [ -z "$CMD" ]; then
		default_cmd
	fi
	check_token_file
	EXEC_SHOWN="$CMD$EXEC_ARGS_SH"
	if [ "$CMD" = agent ]; then
		SERVICE=edgek-agent
	else
		SERVICE=edgek
	fi
	ENV_FILE="$SYSTEMD_DIR/$SERVICE.service.env"
}

# add_exec_arg adds one argument to the service's command line, except the values of
# --token and --datastore-endpoint, which go to the env file (see secret_to_env). It
# notes --data-dir and --config for the killall script and the uninstaller.
add_exec_arg() {
	case "$1" in
	*"$NL"*) fatal "arguments must not contain newlines" ;;
	esac
	if [ -n "$exec_flag" ]; then
		exec_prev=$exec_flag
		exec_flag=
		case "$exec_prev" in
		--token | --datastore-endpoint)
			secret_to_env "$exec_prev" "$1"
			return
			;;
		--data-dir) DATA_DIR=$1 ;;
		esac
		KILLALL_ARGS_SH="$KILLALL_ARGS_SH $exec_prev $(sh_quote "$1")"
	else
		case "$1" in
		--token | --datastore-endpoint)
			exec_flag=$1
			return
			;;
		--data-dir | --config | -c) exec_flag=$1 ;;
		--token=* | --datastore-endpoint=*)
			secret_to_env "${1%%=*}" "${1#*=}"
			return
			;;
		--data-dir=*)
			DATA_DIR=${1#*=}
			KILLALL_ARGS_SH="$KILLALL_ARGS_SH $(sh_quote "$1")"
			;;
		--config=* | -c=*) KILLALL_ARGS_SH="$KILLALL_ARGS_SH $(sh_quote "$1")" ;;
		esac
	fi
	EXEC_ARGS_SD="$EXEC_ARGS_SD $(sd_quote "$1")"
	EXEC_ARGS_SH="$EXEC_ARGS_SH $(sh_quote "$1")"
}

# secret_to_env exports the value of flag $1 as the flag's EDGEK_* variable, which the env
# file (mode 0600) keeps instead of the unit (mode 0644, readable by every user).
secret_to_env() {
	case "$1" in
	--token)
		EDGEK_TOKEN=$2
		export EDGEK_TOKEN
		info "the value of --token goes to the env file as EDGEK_TOKEN (readable by root only), not to the command line"
		;;
	--datastore-endpoint)
		EDGEK_DATASTORE_ENDPOINT=$2
		export EDGEK_DATASTORE_ENDPOINT
		info "the value of --datastore-endpoint goes to the env file as EDGEK_DATASTORE_ENDPOINT (readable by root only), not to the command line"
		;;
	esac
}

# default_cmd picks the command when only flags were given: agent when EDGEK_URL is set.
default_cmd() {
	if [ -z "${EDGEK_URL:-}" ]; then
		CMD=server
		return
	fi
	if [ -z "${EDGEK_TOKEN:-}" ] && [ -z "${EDGEK_TOKEN_FILE:-}" ]; then
		fatal "EDGEK_URL is set, so edgek would run as an agent, but EDGEK_TOKEN (or EDGEK_TOKEN_FILE, or --token) is not set"
	fi
	CMD=agent
}

check_token_file() {
	[ -n "${EDGEK_TOKEN_FILE:-}" ] || return 0
	case "$EDGEK_TOKEN_FILE" in
	/*) ;;
	*) fatal "EDGEK_TOKEN_FILE must be an absolute path (the service does not run from this directory): $EDGEK_TOKEN_FILE" ;;
	esac
	[ -r "$EDGEK_TOKEN_FILE" ] || fatal "EDGEK_TOKEN_FILE $EDGEK_TOKEN_FILE is not a readable file"
}

# setup_init decides how the service is run: systemd, openrc or none, and whether this
# script may call the init system (never when the unit directory is a test's).
setup_init() {
	MANAGE=false
	UNIT_FILE=
	if is_true "${INSTALL_EDGEK_SKIP_SERVICE:-}"; then
		INIT=none
		return
	fi
	if [ -n "${INSTALL_EDGEK_SYSTEMD_DIR:-}" ] || [ -d /run/systemd/system ] || command -v systemctl >/dev/null 2>&1; then
		INIT=systemd
		UNIT_FILE="$SYSTEMD_DIR/$SERVICE.service"
		case "$SYSTEMD_DIR" in
		/etc/systemd/system | /lib/systemd/system | /usr/lib/systemd/system)
			command -v systemctl >/dev/null 2>&1 && MANAGE=true
			;;
		esac
	elif [ -x /sbin/openrc-run ]; then
		INIT=openrc
		UNIT_FILE="/etc/init.d/$SERVICE"
		MANAGE=true
	else
		INIT=none
	fi
}

check_root() {
	if [ "$(id -u)" -eq 0 ]; then
		mkdir -p "$BIN_DIR"
		return
	fi
	if [ -z "${INSTALL_EDGEK_BIN_DIR:-}" ]; then
		fatal "must be run as root (e.g. curl ... | sudo sh -), or with INSTALL_EDGEK_BIN_DIR set to a directory you can write"
	fi
	mkdir -p "$BIN_DIR" 2>/dev/null || true
	if [ ! -d "$BIN_DIR" ] || [ ! -w "$BIN_DIR" ]; then
		fatal "not root and INSTALL_EDGEK_BIN_DIR=$BIN_DIR is not a writable directory"
	fi
	if is_true "$MANAGE"; then
		fatal "not root: cannot install a $INIT service (set INSTALL_EDGEK_SKIP_SERVICE=true, or run as root)"
	fi
}

# setup_source decides where the binary comes from: SOURCE=local (INSTALL_EDGEK_BIN),
# placed (INSTALL_EDGEK_SKIP_DOWNLOAD, the file already at $BIN) or download. Everything a
# download needs is checked here, before anything is written.
setup_source() {
	if [ -n "${EDGEK_DOWNLOAD_URL:-}" ]; then
		fatal "EDGEK_DOWNLOAD_URL is no longer read: set INSTALL_EDGEK_URL to the release base URL (files <url>/<version>/edgek-<arch> and sha256sum-<arch>.txt), or download the binary yourself and set INSTALL_EDGEK_BIN=/path/to/edgek"
	fi
	if [ -n "${INSTALL_EDGEK_SKIP_VERIFY:-}" ]; then
		fatal "INSTALL_EDGEK_SKIP_VERIFY is not supported: downloads are always checked against the release's sha256sum file; to install a binary you checked another way, set INSTALL_EDGEK_BIN=/path/to/edgek"
	fi
	if [ -n "${INSTALL_EDGEK_BIN:-}" ] && is_true "${INSTALL_EDGEK_SKIP_DOWNLOAD:-}"; then
		fatal "set INSTALL_EDGEK_BIN (install that file) or INSTALL_EDGEK_SKIP_DOWNLOAD=true (use $BIN as it is), not both"
	fi
	if [ -n "${INSTALL_EDGEK_BIN:-}" ]; then
		SOURCE=local
		[ -f "$INSTALL_EDGEK_BIN" ] || fatal "INSTALL_EDGEK_BIN=$INSTALL_EDGEK_BIN is not a file"
	elif is_true "${INSTALL_EDGEK_SKIP_DOWNLOAD:-}"; then
		SOURCE=placed
		[ -f "$BIN" ] || fatal "INSTALL_EDGEK_SKIP_DOWNLOAD=true but there is no $BIN: copy the edgek binary for this machine there first"
	else
		SOURCE=download
		setup_arch
		setup_url
		setup_downloader
	fi
}

# setup_arch maps `uname -m` to the release's architecture name.
setup_arch() {
	machine=$(uname -m)
	case "$machine" in
	x86_64 | amd64) ARCH=amd64 ;;
	aarch64 | arm64) ARCH=arm64 ;;
	armv7* | armv8l) ARCH=armhf ;;
	*) fatal "unsupported architecture '$machine' (uname -m): edgek is released for x86_64/amd64 (amd64), aarch64/arm64 (arm64) and armv7l/armv8l (armhf, 32-bit ARMv7)" ;;
	esac
}

setup_url() {
	BASE_URL=${INSTALL_EDGEK_URL:-$DEFAULT_URL}
	while [ "${BASE_URL%/}" != "$BASE_URL" ]; do
		BASE_URL=${BASE_URL%/}
	done
	case "$BASE_URL" in
	*[[:space:]]*) fatal "INSTALL_EDGEK_URL must not contain spaces or newlines" ;;
	https://?*) PROTO='=https' ;;
	http://?*)
		is_true "${INSTALL_EDGEK_ALLOW_HTTP:-}" ||
			fatal "INSTALL_EDGEK_URL=$BASE_URL is plain http: anyone on the way could change the binary and its checksum file; use https, or set INSTALL_EDGEK_ALLOW_HTTP=true if you trust this network"
		warn "downloading over plain http (INSTALL_EDGEK_ALLOW_HTTP=true)"
		PROTO='=http,https'
		;;
	*) fatal "INSTALL_EDGEK_URL must be an https:// URL, not '$BASE_URL'" ;;
	esac
}

setup_downloader() {
	if command -v curl >/dev/null 2>&1; then
		DOWNLOADER=curl
	elif command -v wget >/dev/null 2>&1; then
		DOWNLOADER=wget
	else
		fatal "neither curl nor wget is installed: install one, or copy the binary here and set INSTALL_EDGEK_BIN=/path/to/edgek"
	fi
	if command -v sha256sum >/dev/null 2>&1; then
		:
	elif ! command -v shasum >/dev/null 2>&1; then
		fatal "neither sha256sum nor shasum is installed: the download cannot be verified"
	fi
}

# fetch downloads URL $1 to file $2. curl follows redirects only to the allowed protocols.
fetch() {
	if [ "$DOWNLOADER" = curl ]; then
		curl -fsSL --proto "$PROTO" --proto-redir "$PROTO" -o "$2" "$1"
	else
		wget -q -O "$2" "$1"
	fi
}

# valid_name tells whether $1 is usable as a version or channel in a URL path.
valid_name() {
	case "$1" in
	'' | . | .. | *[!A-Za-z0-9._+-]*) return 1 ;;
	esac
}

# resolve_version sets RELEASE from INSTALL_EDGEK_VERSION or the channel's file.
resolve_version() {
	if [ -n "${INSTALL_EDGEK_VERSION:-}" ]; then
		RELEASE=$INSTALL_EDGEK_VERSION
		valid_name "$RELEASE" || fatal "INSTALL_EDGEK_VERSION='$RELEASE' is not a version (letters, digits and . _ + - only)"
		info "version $RELEASE (INSTALL_EDGEK_VERSION)"
		return
	fi
	channel=${INSTALL_EDGEK_CHANNEL:-stable}
	valid_name "$channel" || fatal "INSTALL_EDGEK_CHANNEL='$channel' is not a channel name (letters, digits and . _ + - only)"
	channel_url="$BASE_URL/channels/$channel"
	fetch "$channel_url" "$TMP_DIR/channel" ||
		fatal "could not download $channel_url (is '$channel' a channel of $BASE_URL? INSTALL_EDGEK_VERSION pins a version instead)"
	RELEASE=$(head -n 1 "$TMP_DIR/channel" | tr -d ' \t\r')
	valid_name "$RELEASE" || fatal "$channel_url does not hold a version (first line: '$RELEASE')"
	info "version $RELEASE (channel $channel at $channel_url)"
}

sha256_of() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | awk '{print $1}'
	else
		shasum -a 256 "$1" | awk '{print $1}'
	fi
}

# listed_sum prints the checksum sha256sum-<arch>.txt lists for file $1 (nothing if none).
listed_sum() {
	awk -v name="$1" '{ f = $2; sub(/^\*/, "", f); sub(/.*\//, "", f); if (f == name) { print tolower($1); exit } }' "$SUMS"
}

# decompressor prints the command that decompresses .$1 to stdout, if this host has one
# (busybox, as on Alpine, has unxz and gzip but no xz command unless xz is installed).
decompressor() {
	case "$1" in
	zst) command -v zstd >/dev/null 2>&1 && echo 'zstd -q -d -c' ;;
	xz)
		if command -v xz >/dev/null 2>&1; then
			echo 'xz -d -c'
		else
			command -v unxz >/dev/null 2>&1 && echo 'unxz -c'
		fi
		;;
	gz) command -v gzip >/dev/null 2>&1 && echo 'gzip -d -c' ;;
	esac
}

# verify refuses file $1 unless its sha256 is the one sha256sum-<arch>.txt lists for $2.
verify() {
	want=$(listed_sum "$2")
	[ -n "$want" ] || fatal "$SUMS_URL lists no checksum for $2; nothing was installed"
	got=$(sha256_of "$1")
	if [ "$got" != "$want" ]; then
		fatal "checksum mismatch for $2 ($RELEASE_URL/$2): expected $want (from $SUMS_URL), got $got; nothing was installed or changed"
	fi
	info "checked the sha256 of $2"
}

# download_binary puts the release's binary for this machine, verified, at $NEW_BIN; when
# $BIN is that binary already it downloads nothing and sets NEW_BIN=$BIN.
download_binary() {
	resolve_version
	RELEASE_URL="$BASE_URL/$RELEASE"
	SUMS="$TMP_DIR/sha256sum-$ARCH.txt"
	SUMS_URL="$RELEASE_URL/sha256sum-$ARCH.txt"
	fetch "$SUMS_URL" "$SUMS" || fatal "could not download $SUMS_URL (is $RELEASE released for $ARCH?)"
	raw="edgek-$ARCH"
	raw_sum=$(listed_sum "$raw")
	if [ -n "$raw_sum" ] && [ -f "$BIN" ] && [ "$(sha256_of "$BIN")" = "$raw_sum" ]; then
		info "$BIN is $raw $RELEASE already (same sha256): nothing to download"
		NEW_BIN=$BIN
		return
	fi
	unusable=
	for ext in zst xz gz; do
		[ -n "$(listed_sum "$raw.$ext")" ] || continue
		unpack=$(decompressor "$ext") || unpack=
		if [ -z "$unpack" ]; then
			unusable="$unusable $raw.$ext"
		elif fetch_compressed "$ext" "$unpack"; then
			return
		fi
	done
	[ -n "$raw_sum" ] || fatal "$SUMS_URL lists no $raw, and no compressed form this host can unpack (offered:${unusable:- none}; install zstd or xz)"
	[ -z "$unusable" ] || info "no decompressor here for$unusable: downloading the uncompressed $raw"
	get_file "$raw" "$NEW_BIN"
}

# get_file downloads release file $1 to $2 and verifies it.
get_file() {
	info "downloading $RELEASE_URL/$1"
	fetch "$RELEASE_URL/$1" "$2" || fatal "could not download $RELEASE_URL/$1"
	verify "$2" "$1"
}

# fetch_compressed downloads $raw.$1, verifies it and unpacks it with command $2 to
# $NEW_BIN; it returns 1 (after a warning) when the decompressor fails.
fetch_compressed() {
	packed="$TMP_DIR/$raw.$1"
	get_file "$raw.$1" "$packed"
	# shellcheck disable=SC2086 # $2 is a command and its flags
	if $2 "$packed" >"$NEW_BIN"; then
		rm -f "$packed"
		[ -z "$raw_sum" ] || verify "$NEW_BIN" "$raw"
		return 0
	fi
	warn "could not decompress $raw.$1 with ${2%% *}; trying the next form"
	rm -f "$packed" "$NEW_BIN"
	return 1
}

# file_sum prints a checksum of file $1 ("none" if there is no such file), to tell whether
# a re-run changed it; "unknown" when this host has neither cksum nor a sha256 tool (some
# busybox builds have no cksum).
file_sum() {
	if [ -z "$1" ] || [ ! -f "$1" ]; then
		echo none
	elif command -v cksum >/dev/null 2>&1; then
		cksum <"$1"
	elif command -v sha256sum >/dev/null 2>&1 || command -v shasum >/dev/null 2>&1; then
		sha256_of "$1"
	else
		echo unknown
	fi
}

# same_sum tells whether checksums $1 and $2 (from file_sum) show the same file.
same_sum() {
	[ "$1" = "$2" ] && [ "$1" != unknown ]
}

# install_binary gets the binary into a temporary directory beside its target, checks it,
# and moves it into place, so a running edgek is never left with half a file.
install_binary() {
	TMP_DIR=$(mktemp -d "$BIN_DIR/.edgek.install.XXXXXX")
	NEW_BIN="$TMP_DIR/edgek"
	case "$SOURCE" in
	local)
		info "using local binary $INSTALL_EDGEK_BIN"
		cp "$INSTALL_EDGEK_BIN" "$NEW_BIN"
		;;
	placed)
		info "using $BIN as it is (INSTALL_EDGEK_SKIP_DOWNLOAD=true)"
		NEW_BIN=$BIN
		;;
	download) download_binary ;;
	esac
	check_binary "$NEW_BIN"
	# A binary placed by hand may be newer than the one the service runs: it counts as a change.
	BIN_CHANGED=true
	if [ "$NEW_BIN" = "$BIN" ]; then
		[ "$SOURCE" = placed ] || BIN_CHANGED=false
	else
		if [ "$SOURCE" = local ] && same_sum "$(file_sum "$NEW_BIN")" "$(file_sum "$BIN")"; then
			BIN_CHANGED=false
		fi
		mv -f "$NEW_BIN" "$BIN"
	fi
	info "installed $BIN ($INSTALLED_VERSION)"
}

# check_binary checks file $1 against INSTALL_EDGEK_SHA256 and runs it; sets INSTALLED_VERSION.
check_binary() {
	if [ -n "${INSTALL_EDGEK_SHA256:-}" ]; then
		command -v sha256sum >/dev/null 2>&1 || command -v shasum >/dev/null 2>&1 ||
			fatal "INSTALL_EDGEK_SHA256 is set but neither sha256sum nor shasum is installed"
		got=$(sha256_of "$1")
		want=$(printf '%s' "$INSTALL_EDGEK_SHA256" | tr 'A-F' 'a-f')
		[ "$got" = "$want" ] || fatal "sha256 mismatch: INSTALL_EDGEK_SHA256 is $want, the binary's ($1) is $got; nothing was installed or changed"
		info "sha256 checked (INSTALL_EDGEK_SHA256)"
	fi
	chmod 0755 "$1"
	if ! INSTALLED_VERSION=$("$1" --version 2>&1); then
		fatal "the binary does not run here ('edgek --version' failed; wrong architecture?): $INSTALLED_VERSION"
	fi
	INSTALLED_VERSION=$(printf '%s\n' "$INSTALLED_VERSION" | head -n 1)
	case "$SOURCE:$INSTALLED_VERSION" in
	download:*"$RELEASE"*) ;;
	download:*) warn "release $RELEASE's binary says '$INSTALLED_VERSION'" ;;
	esac
}
# is_edgek_link tells whether $1 is a symlink to the installed edgek.
is_edgek_link() {
	[ -L "$1" ] || return 1
	link_target=$(readlink "$1")
	[ "$link_target" = edgek ] || [ "$link_target" = "$BIN" ]
}

create_symlinks() {
	if [ "${INSTALL_EDGEK_SYMLINK:-}" = skip ]; then
		info "not creating kubectl, ctr, crictl symlinks (INSTALL_EDGEK_SYMLINK=skip)"
		return
	fi
	for cmd in kubectl ctr crictl; do
		link="$BIN_DIR/$cmd"
		if is_edgek_link "$link"; then
			continue
		fi
		if [ -e "$link" ] || [ -L "$link" ]; then
			if [ "${INSTALL_EDGEK_SYMLINK:-}" != force ]; then
				warn "keeping existing $link (not edgek); set INSTALL_EDGEK_SYMLINK=force to replace it"
				continue
			fi
			info "replacing $link (INSTALL_EDGEK_SYMLINK=force)"
			rm -f "$link"
		fi
		ln -s edgek "$link"
		info "created symlink $link -> edgek"
	done
}

# write_env_file saves the EDGEK_* variables of this environment for the service, readable
# by root only. Values are never printed.
write_env_file() {
	mkdir -p "$SYSTEMD_DIR"
	env_tmp="$ENV_FILE.tmp.$$"
	TMP_ENV=$env_tmp
	(umask 077 && : >"$env_tmp")
	chmod 0600 "$env_tmp"
	env_names=$(env | sed -n 's/^\(EDGEK_[A-Za-z0-9_]*\)=.*/\1/p' | sort -u)
	env_saved=
	for env_name in $env_names; do
		eval "env_set=\${$env_name+x}"
		[ -n "$env_set" ] || continue
		env_val=
		eval "env_val=\$$env_name"
		case "$env_val" in
		*"$NL"*)
			warn "$env_name contains a newline and is not saved"
			continue
			;;
		esac
		printf '%s="%s"\n' "$env_name" "$(dq_escape "$env_val")" >>"$env_tmp"
		env_saved="$env_saved $env_name"
	done
	mv -f "$env_tmp" "$ENV_FILE"
	TMP_ENV=
	info "wrote $ENV_FILE (mode 0600):${env_saved:- no EDGEK_* variables}"
}

write_systemd_unit() {
	mkdir -p "$SYSTEMD_DIR"
	cat >"$UNIT_FILE" <<EOF
# Written by the edgek installer; re-run it to change. Variables: $ENV_FILE
[Unit]
Description=edgek - lightweight Kubernetes ($CMD)
Documentation=https://github.com/edgek-io/edgek
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
# edgek does not speak sd_notify yet.
Type=exec
EnvironmentFile=-$ENV_FILE
# Only edgek itself is stopped on restart: containerd shims and containers keep running.
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=$(sd_quote "$BIN") $CMD$EXEC_ARGS_SD
EOF
	chmod 0644 "$UNIT_FILE"
	info "wrote $UNIT_FILE: edgek $EXEC_SHOWN"
}

write_openrc_script() {
	LOG_FILE="/var/log/$SERVICE.log"
	cat >"$UNIT_FILE" <<EOF
#!/sbin/openrc-run
# Written by the edgek installer; re-run it to change. Variables: $ENV_FILE

description="edgek - lightweight Kubernetes ($CMD)"
supervisor=supervise-daemon
command=$(sh_quote "$BIN")
command_args=$(sh_quote "$CMD$EXEC_ARGS_SH")
output_log=$(sh_quote "$LOG_FILE")
error_log=$(sh_quote "$LOG_FILE")
pidfile=$(sh_quote "/run/$SERVICE.pid")
respawn_delay=5
respawn_max=0
rc_ulimit="-n 1048576 -u unlimited -c unlimited"

depend() {
	after network-online
	want cgroups
}

start_pre() {
	/sbin/modprobe br_netfilter 2>/dev/null || true
	/sbin/modprobe overlay 2>/dev/null || true
}

set -o allexport
if [ -f $(sh_quote "$ENV_FILE") ]; then . $(sh_quote "$ENV_FILE"); fi
set +o allexport
EOF
	chmod 0755 "$UNIT_FILE"
	info "wrote $UNIT_FILE: edgek $EXEC_SHOWN (log: $LOG_FILE)"
}

# start_service enables the service and restarts it when the binary, unit or env file
# changed (KillMode=process: the pods keep running); otherwise it only starts it if stopped.
start_service() {
	if [ "$BIN_CHANGED" = false ] && same_sum "$UNIT_SUM" "$(file_sum "$UNIT_FILE")" &&
		same_sum "$ENV_SUM" "$(file_sum "$ENV_FILE")" && ! is_true "${INSTALL_EDGEK_FORCE_RESTART:-}"; then
		RESTART=false
		why="nothing changed since the last install (INSTALL_EDGEK_FORCE_RESTART=true restarts it anyway)"
	else
		RESTART=true
		why="the binary, unit or env file changed"
	fi
	if ! is_true "$MANAGE"; then
		info "not enabling or starting $SERVICE: $SYSTEMD_DIR is not the system's unit directory, so systemctl is left alone (restart needed: $RESTART: $why)"
		return
	fi
	enable_service
	if is_true "${INSTALL_EDGEK_SKIP_START:-}"; then
		info "not starting $SERVICE (INSTALL_EDGEK_SKIP_START=true)"
	elif [ "$INIT" = systemd ] && [ ! -d /run/systemd/system ]; then
		warn "systemd is not running here; $SERVICE will start at boot"
	elif is_true "$RESTART"; then
		info "(re)starting $SERVICE: $why"
		if [ "$INIT" = systemd ]; then systemctl restart "$SERVICE"; else rc-service "$SERVICE" restart; fi
	else
		info "not restarting $SERVICE: $why"
		if [ "$INIT" = systemd ]; then
			systemctl start "$SERVICE"
		else
			rc-service "$SERVICE" status >/dev/null 2>&1 || rc-service "$SERVICE" start
		fi
	fi
	if [ "$INIT" = systemd ]; then
		info "follow $SERVICE with: journalctl -u $SERVICE -f"
	else
		info "$SERVICE logs to $LOG_FILE"
	fi
}

enable_service() {
	[ "$INIT" != systemd ] || systemctl daemon-reload
	if is_true "${INSTALL_EDGEK_SKIP_ENABLE:-}"; then
		info "not enabling $SERVICE (INSTALL_EDGEK_SKIP_ENABLE=true)"
	elif [ "$INIT" = systemd ]; then
		systemctl enable "$SERVICE" >/dev/null
		info "enabled $SERVICE"
	else
		rc-update add "$SERVICE" default >/dev/null
		info "enabled $SERVICE"
	fi
}

# script_vars prints the variables the generated scripts share, with this install's values.
script_vars() {
	echo "BIN_DIR=$(sh_quote "$BIN_DIR")"
	echo "SERVICE=$(sh_quote "$SERVICE")"
	echo "INIT=$INIT"
	echo "MANAGE=$MANAGE"
	# shellcheck disable=SC2016 # $BIN_DIR is for the generated script to expand
	echo 'BIN="$BIN_DIR/edgek"'
}

# write_killall writes edgek-killall.sh (as K3s's k3s-killall.sh): it stops the service
# and runs `edgek killall` with the data dir and config the service uses.
write_killall() {
	{
		echo '#!/bin/sh'
		echo "# Written by the edgek installer: stops $SERVICE, its containers and shims, and removes the"
		echo "# mounts, network devices, routes and iptables rules it made; the data dir stays."
		echo "# Arguments go to 'edgek killall' (e.g. --dry-run, which also leaves the service running)."
		script_vars
		echo "ENV_FILE=$(sh_quote "$ENV_FILE")"
		echo "set --$KILLALL_ARGS_SH \"\$@\""
		cat <<'EOF_KILLALL'
set -u
info() { echo "[edgek-killall] $*"; }
fatal() {
	echo "[edgek-killall] ERROR: $*" >&2
	exit 1
}

if [ "$(id -u)" -ne 0 ] && [ "$MANAGE" = true ]; then
	fatal "must be run as root"
fi
dry_run=false
for arg in "$@"; do
	[ "$arg" != --dry-run ] || dry_run=true
done
if [ "$dry_run" = false ] && [ "$MANAGE" = true ]; then
	info "stopping $SERVICE"
	if [ "$INIT" = systemd ]; then
		systemctl stop "$SERVICE" 2>/dev/null || true
	else
		rc-service "$SERVICE" stop 2>/dev/null || true
	fi
fi
[ -x "$BIN" ] || fatal "$BIN is missing: cannot run edgek killall"
if [ -f "$ENV_FILE" ]; then
	set -a
	# shellcheck source=/dev/null # the service's EDGEK_* variables, e.g. EDGEK_DATA_DIR
	. "$ENV_FILE"
	set +a
fi
exec "$BIN" killall "$@"
EOF_KILLALL
	} >"$KILLALL"
	chmod 0755 "$KILLALL"
	info "wrote $KILLALL"
}

# write_uninstaller writes a script with this install's paths fixed in it.
write_uninstaller() {
	{
		echo '#!/bin/sh'
		echo "# Written by the edgek installer: removes edgek ($INSTALLED_VERSION) from this machine."
		script_vars
		echo "SYSTEMD_DIR=$(sh_quote "$SYSTEMD_DIR")"
		echo "KILLALL=$(sh_quote "$KILLALL")"
		echo "CONFIG_DIR=$(sh_quote "$CONFIG_DIR")"
		echo "DATA_DIR=$(sh_quote "$DATA_DIR")"
		echo "$SYSTEM_DIR_FN"
		cat <<'EOF_UNINSTALL'
set -u
info() { echo "[edgek-uninstall] $*"; }
fatal() {
	echo "[edgek-uninstall] ERROR: $*" >&2
	exit 1
}

if [ "$(id -u)" -ne 0 ] && { [ "$MANAGE" = true ] || [ ! -w "$BIN_DIR" ]; }; then
	fatal "must be run as root"
fi

if [ -x "$KILLALL" ]; then
	info "stopping $SERVICE and cleaning up ($KILLALL)"
	"$KILLALL" || info "$KILLALL failed; going on"
fi
if [ "$MANAGE" = true ] && [ "$INIT" = systemd ]; then
	systemctl stop "$SERVICE" 2>/dev/null || true
	systemctl disable "$SERVICE" >/dev/null 2>&1 || true
elif [ "$MANAGE" = true ] && [ "$INIT" = openrc ]; then
	rc-service "$SERVICE" stop 2>/dev/null || true
	rc-update del "$SERVICE" default >/dev/null 2>&1 || true
fi

if [ "$INIT" = systemd ]; then
	rm -f "$SYSTEMD_DIR/$SERVICE.service"
	if [ "$MANAGE" = true ]; then
		systemctl daemon-reload 2>/dev/null || true
		systemctl reset-failed "$SERVICE" 2>/dev/null || true
	fi
elif [ "$INIT" = openrc ]; then
	rm -f "/etc/init.d/$SERVICE" "/var/log/$SERVICE.log"
fi
rm -f "$SYSTEMD_DIR/$SERVICE.service.env"

for cmd in kubectl ctr crictl; do
	link="$BIN_DIR/$cmd"
	if [ -L "$link" ]; then
		target=$(readlink "$link")
		if [ "$target" = edgek ] || [ "$target" = "$BIN" ]; then
			rm -f "$link"
		fi
	fi
done
rm -f "$BIN" "$KILLALL"

kept=
for dir in "$CONFIG_DIR" "$DATA_DIR"; do
	if system_dir "$dir"; then
		echo "[edgek-uninstall] ERROR: $dir is a system directory: not removed (edit this script if it really is edgek's)" >&2
		kept=1
		continue
	fi
	case "$dir" in
	/?*) rm -rf "$dir" ;;
	esac
done
info "removed edgek ($SERVICE service, $BIN, $KILLALL, $CONFIG_DIR, $DATA_DIR)"
rm -f "$BIN_DIR/edgek-uninstall.sh"
[ -z "$kept" ] || exit 1
EOF_UNINSTALL
	} >"$UNINSTALL"
	chmod 0755 "$UNINSTALL"
	info "wrote uninstaller $UNINSTALL"
}

cleanup() {
	[ -z "${TMP_DIR:-}" ] || rm -rf "$TMP_DIR"
	[ -z "${TMP_ENV:-}" ] || rm -f "$TMP_ENV"
}

# check_host_tools warns about what edgek needs from the host and does not carry.
check_host_tools() {
	if ! command -v iptables-restore >/dev/null 2>&1; then
		warn "iptables is not installed: kube-proxy and flannel need it (Debian/Ubuntu: apt-get install iptables; Alpine: apk add iptables; Fedora: dnf install iptables); run 'edgek check-config' for the full list"
	fi
	if ! command -v ipset >/dev/null 2>&1; then
		warn "ipset is not installed: network policy enforcement needs it (Debian/Ubuntu: apt-get install ipset; Alpine: apk add ipset; Fedora: dnf install ipset), unless the server runs with --disable-network-policy"
	fi
}

main() {
	trap cleanup EXIT
	trap 'exit 1' INT TERM
	TMP_DIR=
	setup_vars
	setup_exec "$@"
	check_dirs
	setup_init
	setup_source
	check_root
	UNIT_SUM=$(file_sum "$UNIT_FILE")
	ENV_SUM=$(file_sum "$ENV_FILE")
	install_binary
	create_symlinks
	case "$INIT" in
	systemd)
		write_env_file
		write_systemd_unit
		;;
	openrc)
		write_env_file
		write_openrc_script
		;;
	esac
	write_killall
	write_uninstaller
	check_host_tools
	case "$INIT" in
	none)
		if is_true "${INSTALL_EDGEK_SKIP_SERVICE:-}"; then
			info "no service written (INSTALL_EDGEK_SKIP_SERVICE=true)"
		else
			warn "neither systemd nor OpenRC found: no service written"
		fi
		info "start edgek by hand, as root and with the EDGEK_* variables exported: $BIN $EXEC_SHOWN"
		;;
	*) start_service ;;
	esac
	if [ "$CMD" = server ]; then
		info "admin kubeconfig: ${EDGEK_WRITE_KUBECONFIG:-${EDGEK_KUBECONFIG_OUTPUT:-/etc/edgek/edgek.yaml}} (try: kubectl get nodes)"
	fi
	info "done; to stop everything run $KILLALL, to remove edgek run $UNINSTALL"
}

main "$@"
