# edgek in a container, like k3s in Docker. It runs containerd and the kubelet inside, so it
# needs a privileged container with the host's cgroups, e.g.
#   docker build -t edgek .
#   docker run -d --name edgek --privileged --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
#     --tmpfs /run -v /lib/modules:/lib/modules:ro -p 6443:6443 -v edgek-data:/var/lib/edgek edgek server
# Build argument VERSION sets the reported version (default: git describe, if .git is present).
#
# The image is Debian bookworm (slim) with what the node execs at run time: iptables (both
# backends; the entrypoint picks the one the kernel and host use, or EDGEK_IPTABLES_MODE=nft or
# legacy), modprobe, mount, and tini as PID 1. The package list is build/image/packages.txt;
# test/e2e/image_test.go runs `edgek server` from the same root filesystem, assembled without
# Docker by scripts/image-rootfs.sh.

FROM golang:1.26 AS build
# runc, which edgek carries (pkg/data), is built with cgo against a static libseccomp.
RUN apt-get update && apt-get install -y --no-install-recommends libseccomp-dev \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Modules first, so that editing the source does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY build/tools/go.mod build/tools/go.sum build/tools/
RUN go -C build/tools mod download
COPY . .
ARG VERSION
RUN CGO_ENABLED=0 make build ${VERSION:+VERSION=$VERSION} \
	&& build/image/layout.sh /out bin/edgek

FROM debian:bookworm-slim
COPY build/image/packages.txt /tmp/packages.txt
RUN apt-get update \
	&& sed 's/#.*//' /tmp/packages.txt | xargs env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends \
	&& rm -rf /var/lib/apt/lists/* /tmp/packages.txt
# /usr/local/bin: edgek, its kubectl, ctr and crictl links, and edgek-entrypoint (layout.sh).
COPY --from=build /out/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
VOLUME /var/lib/edgek
# tini (PID 1) reaps the shims containerd orphans and forwards signals to edgek.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/edgek-entrypoint"]
CMD ["server"]
