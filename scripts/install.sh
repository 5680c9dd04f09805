#!/bin/sh
# edgek installer: puts the edgek binary on this machine and runs it as a service.
#
# Offline first: on an air-gapped device copy the edgek binary over and run
#   sudo INSTALL_EDGEK_BIN=./edgek sh install.sh
# or, with a download location,
#   curl -sfL https://example.org/install.sh | EDGEK_DOWNLOAD_URL=https://example.org/edgek sh -
#
# The command the service runs is `server` by default, `agent` when EDGEK_URL is set;
# INSTALL_EDGEK_EXEC and/or the script's arguments give it explicitly, K3s style:
#   sh install.sh server --tls-san edge.example.org
#   curl ... | INSTALL_EDGEK_EXEC="agent" EDGEK_URL=https://server:6443 EDGEK_TOKEN=... sh -s -
#
# Variables read by this script (INSTALL_* are the installer's own and are not saved):
#   INSTALL_EDGEK_BIN          local edgek binary to install (the air-gap case)
#   EDGEK_DOWNLOAD_URL         where to download edgek from when INSTALL_EDGEK_BIN is not set
#   INSTALL_EDGEK_SHA256       expected sha256 of the binary; checked when set
#   INSTALL_EDGEK_BIN_DIR      where edgek, its symlinks and the uninstaller go (/usr/local/bin)
#   INSTALL_EDGEK_SYSTEMD_DIR  where the unit and its env file go (/etc/systemd/system);
#                              systemctl is only called when this is the system's directory
#   INSTALL_EDGEK_CONFIG_DIR   edgek's config directory, removed by the uninstaller (/etc/edgek)
#   INSTALL_EDGEK_EXEC         command and flags for the service, e.g. "server --disable-agent"
#   INSTALL_EDGEK_SYMLINK      kubectl/ctr/crictl symlinks: unset = only where no other file is,
#                              force = replace other files, skip = none
#   INSTALL_EDGEK_SKIP_ENABLE  true: do not enable the service at boot
#   INSTALL_EDGEK_SKIP_START   true: do not (re)start the service
#   INSTALL_EDGEK_SKIP_SERVICE true: install the binary only, write no service or env file
#   EDGEK_URL, EDGEK_TOKEN     server to join and its token (EDGEK_URL makes `agent` the default)
#   EDGEK_TOKEN_FILE           instead of EDGEK_TOKEN: absolute path of a file holding the token
#   EDGEK_DATA_DIR             data directory, removed by the uninstaller (/var/lib/edgek)
#   EDGEK_*                    any other flag mirror; all EDGEK_* but EDGEK_DOWNLOAD_URL are
#                              saved to the service's env file (mode 0600)
set -e

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

# redacted prints the arguments for a log line, hiding values of flags that carry secrets.
redacted() {
	red_next=false
	red_out=
	for red_arg in "$@"; do
		if is_true "$red_next"; then
			red_arg='***'
			red_next=false
		else
			case "$red_arg" in
			--token | -t | --agent-token | --datastore-endpoint) red_next=true ;;
			--token=* | -t=* | --agent-token=* | --datastore-endpoint=*) red_arg="${red_arg%%=*}=***" ;;
			esac
		fi
		red_out="$red_out${red_out:+ }$(sh_quote "$red_arg")"
	done
	printf '%s' "$red_out"
}

setup_vars() {
	BIN_DIR=${INSTALL_EDGEK_BIN_DIR:-/usr/local/bin}
	SYSTEMD_DIR=${INSTALL_EDGEK_SYSTEMD_DIR:-/etc/systemd/system}
	CONFIG_DIR=${INSTALL_EDGEK_CONFIG_DIR:-/etc/edgek}
	DATA_DIR=${EDGEK_DATA_DIR:-/var/lib/edgek}
	BIN="$BIN_DIR/edgek"
	UNINSTALL="$BIN_DIR/edgek-uninstall.sh"
	case "${INSTALL_EDGEK_SYMLINK:-}" in
	'' | force | skip) ;;
	*) fatal "INSTALL_EDGEK_SYMLINK must be empty, 'force' or 'skip', not '$INSTALL_EDGEK_SYMLINK'" ;;
	esac
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
	-* | '')
		if [ -n "${EDGEK_URL:-}" ]; then
			if [ -z "${EDGEK_TOKEN:-}" ] && [ -z "${EDGEK_TOKEN_FILE:-}" ]; then
				fatal "EDGEK_URL is set, so edgek would run as an agent, but EDGEK_TOKEN (or EDGEK_TOKEN_FILE) is not set"
			fi
			CMD=agent
		else
			CMD=server
		fi
		;;
	*)
		CMD=$1
		shift
		;;
	esac
	case "$CMD" in
	server | agent) ;;
	*) fatal "the command to install must be 'server' or 'agent', not '$CMD'" ;;
	esac
	if [ -n "${EDGEK_TOKEN_FILE:-}" ]; then
		case "$EDGEK_TOKEN_FILE" in
		/*) ;;
		*) fatal "EDGEK_TOKEN_FILE must be an absolute path (the service does not run from this directory): $EDGEK_TOKEN_FILE" ;;
		esac
		[ -r "$EDGEK_TOKEN_FILE" ] || fatal "EDGEK_TOKEN_FILE $EDGEK_TOKEN_FILE is not a readable file"
	fi
	EXEC_ARGS_SD=
	EXEC_ARGS_SH=
	for exec_arg in "$@"; do
		case "$exec_arg" in
		*"$NL"*) fatal "arguments must not contain newlines" ;;
		--token | --token=* | -t | -t=* | --agent-token | --agent-token=*)
			warn "a token given as an argument is stored in the service definition; prefer EDGEK_TOKEN, which goes to a file only root can read"
			;;
		esac
		EXEC_ARGS_SD="$EXEC_ARGS_SD $(sd_quote "$exec_arg")"
		EXEC_ARGS_SH="$EXEC_ARGS_SH $(sh_quote "$exec_arg")"
	done
	EXEC_SHOWN="$CMD$(redacted "$@" | sed 's/^./ &/')"
	if [ "$CMD" = agent ]; then
		SERVICE=edgek-agent
	else
		SERVICE=edgek
	fi
	ENV_FILE="$SYSTEMD_DIR/$SERVICE.service.env"
}

# setup_init decides how the service is run: systemd, openrc or none, and whether this
# script may call the init system (never when the unit directory is a test's).
setup_init() {
	MANAGE=false
	if is_true "${INSTALL_EDGEK_SKIP_SERVICE:-}"; then
		INIT=none
		return
	fi
	if [ -n "${INSTALL_EDGEK_SYSTEMD_DIR:-}" ] || [ -d /run/systemd/system ] || command -v systemctl >/dev/null 2>&1; then
		INIT=systemd
		case "$SYSTEMD_DIR" in
		/etc/systemd/system | /lib/systemd/system | /usr/lib/systemd/system)
			command -v systemctl >/dev/null 2>&1 && MANAGE=true
			;;
		esac
	elif [ -x /sbin/openrc-run ]; then
		INIT=openrc
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
		fatal "must be run as root (e.g. sudo sh install.sh), or with INSTALL_EDGEK_BIN_DIR set to a directory you can write"
	fi
	mkdir -p "$BIN_DIR" 2>/dev/null || true
	if [ ! -d "$BIN_DIR" ] || [ ! -w "$BIN_DIR" ]; then
		fatal "not root and INSTALL_EDGEK_BIN_DIR=$BIN_DIR is not a writable directory"
	fi
	if is_true "$MANAGE"; then
		fatal "not root: cannot install a $INIT service (set INSTALL_EDGEK_SKIP_SERVICE=true, or run as root)"
	fi
}

sha256_of() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | awk '{print $1}'
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | awk '{print $1}'
	else
		fatal "INSTALL_EDGEK_SHA256 is set but neither sha256sum nor shasum is installed"
	fi
}

download() {
	info "downloading edgek from $EDGEK_DOWNLOAD_URL"
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL -o "$1" "$EDGEK_DOWNLOAD_URL" || fatal "download of $EDGEK_DOWNLOAD_URL failed"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$1" "$EDGEK_DOWNLOAD_URL" || fatal "download of $EDGEK_DOWNLOAD_URL failed"
	else
		fatal "neither curl nor wget is installed: copy the binary here and set INSTALL_EDGEK_BIN=/path/to/edgek"
	fi
}

# install_binary gets the binary into a temporary name beside its target, checks it, and
# moves it into place, so a running edgek is never left with half a file.
install_binary() {
	TMP_BIN="$BIN_DIR/.edgek.install.$$"
	if [ -n "${INSTALL_EDGEK_BIN:-}" ]; then
		[ -f "$INSTALL_EDGEK_BIN" ] || fatal "INSTALL_EDGEK_BIN=$INSTALL_EDGEK_BIN is not a file"
		info "using local binary $INSTALL_EDGEK_BIN"
		cp "$INSTALL_EDGEK_BIN" "$TMP_BIN"
	elif [ -n "${EDGEK_DOWNLOAD_URL:-}" ]; then
		download "$TMP_BIN"
	else
		fatal "no edgek binary to install: set INSTALL_EDGEK_BIN=/path/to/edgek (a local file, for air-gapped machines) or EDGEK_DOWNLOAD_URL=<url of the binary>"
	fi
	if [ -n "${INSTALL_EDGEK_SHA256:-}" ]; then
		got=$(sha256_of "$TMP_BIN")
		want=$(printf '%s' "$INSTALL_EDGEK_SHA256" | tr 'A-F' 'a-f')
		[ "$got" = "$want" ] || fatal "sha256 mismatch: INSTALL_EDGEK_SHA256 is $want, the binary's is $got"
		info "sha256 checked"
	fi
	chmod 0755 "$TMP_BIN"
	if ! VERSION=$("$TMP_BIN" --version 2>&1); then
		fatal "the binary does not run here ('edgek --version' failed; wrong architecture?): $VERSION"
	fi
	VERSION=$(printf '%s\n' "$VERSION" | head -n 1)
	mv -f "$TMP_BIN" "$BIN"
	TMP_BIN=
	info "installed $BIN ($VERSION)"
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
		[ "$env_name" = EDGEK_DOWNLOAD_URL ] && continue
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
	UNIT_FILE="$SYSTEMD_DIR/$SERVICE.service"
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
	UNIT_FILE="/etc/init.d/$SERVICE"
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

start_service() {
	if ! is_true "$MANAGE"; then
		info "not enabling or starting $SERVICE: $SYSTEMD_DIR is not the system's unit directory, so systemctl is left alone"
		return
	fi
	if [ "$INIT" = systemd ]; then
		systemctl daemon-reload
		if is_true "${INSTALL_EDGEK_SKIP_ENABLE:-}"; then
			info "not enabling $SERVICE (INSTALL_EDGEK_SKIP_ENABLE=true)"
		else
			systemctl enable "$SERVICE" >/dev/null
			info "enabled $SERVICE"
		fi
		if is_true "${INSTALL_EDGEK_SKIP_START:-}"; then
			info "not starting $SERVICE (INSTALL_EDGEK_SKIP_START=true); start it with: systemctl start $SERVICE"
		elif [ ! -d /run/systemd/system ]; then
			warn "systemd is not running here; $SERVICE will start at boot"
		else
			systemctl restart "$SERVICE"
			info "started $SERVICE; follow it with: journalctl -u $SERVICE -f"
		fi
	else
		if is_true "${INSTALL_EDGEK_SKIP_ENABLE:-}"; then
			info "not enabling $SERVICE (INSTALL_EDGEK_SKIP_ENABLE=true)"
		else
			rc-update add "$SERVICE" default >/dev/null
			info "enabled $SERVICE"
		fi
		if is_true "${INSTALL_EDGEK_SKIP_START:-}"; then
			info "not starting $SERVICE (INSTALL_EDGEK_SKIP_START=true); start it with: rc-service $SERVICE start"
		else
			rc-service "$SERVICE" restart
			info "started $SERVICE; its log is $LOG_FILE"
		fi
	fi
}

# write_uninstaller writes a script with this install's paths fixed in it.
write_uninstaller() {
	{
		echo '#!/bin/sh'
		echo "# Written by the edgek installer: removes edgek ($VERSION) from this machine."
		echo "BIN_DIR=$(sh_quote "$BIN_DIR")"
		echo "SYSTEMD_DIR=$(sh_quote "$SYSTEMD_DIR")"
		echo "CONFIG_DIR=$(sh_quote "$CONFIG_DIR")"
		echo "DATA_DIR=$(sh_quote "$DATA_DIR")"
		echo "SERVICE=$(sh_quote "${SERVICE:-edgek}")"
		echo "INIT=$INIT"
		echo "MANAGE=$MANAGE"
		cat <<'EOF'
set -u
BIN="$BIN_DIR/edgek"
info() { echo "[edgek-uninstall] $*"; }
fatal() {
	echo "[edgek-uninstall] ERROR: $*" >&2
	exit 1
}

if [ "$(id -u)" -ne 0 ] && { [ "$MANAGE" = true ] || [ ! -w "$BIN_DIR" ]; }; then
	fatal "must be run as root"
fi

if [ "$MANAGE" = true ] && [ "$INIT" = systemd ]; then
	systemctl stop "$SERVICE" 2>/dev/null || true
	systemctl disable "$SERVICE" >/dev/null 2>&1 || true
elif [ "$MANAGE" = true ] && [ "$INIT" = openrc ]; then
	rc-service "$SERVICE" stop 2>/dev/null || true
	rc-update del "$SERVICE" default >/dev/null 2>&1 || true
fi

if [ -x "$BIN" ] && "$BIN" killall --help >/dev/null 2>&1; then
	info "stopping containers and cleaning up (edgek killall)"
	"$BIN" killall --data-dir "$DATA_DIR" || info "edgek killall failed; going on"
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
rm -f "$BIN"

for dir in "$CONFIG_DIR" "$DATA_DIR"; do
	case "$dir" in
	/?*) rm -rf "$dir" ;;
	esac
done
info "removed edgek ($SERVICE service, $BIN, $CONFIG_DIR, $DATA_DIR)"
rm -f "$BIN_DIR/edgek-uninstall.sh"
EOF
	} >"$UNINSTALL"
	chmod 0755 "$UNINSTALL"
	info "wrote uninstaller $UNINSTALL"
}

cleanup() {
	[ -z "${TMP_BIN:-}" ] || rm -f "$TMP_BIN"
	[ -z "${TMP_ENV:-}" ] || rm -f "$TMP_ENV"
}

main() {
	trap cleanup EXIT
	trap 'exit 1' INT TERM
	setup_vars
	setup_exec "$@"
	setup_init
	check_root
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
	info "done; to remove edgek run $UNINSTALL"
}

# check_host_tools warns about what edgek needs from the host and does not carry.
check_host_tools() {
	if ! command -v iptables-restore >/dev/null 2>&1; then
		warn "iptables is not installed: kube-proxy and flannel need it (Debian/Ubuntu: apt-get install iptables; Alpine: apk add iptables; Fedora: dnf install iptables); run 'edgek check-config' for the full list"
	fi
}

main "$@"
