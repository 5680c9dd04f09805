# edgek in a container, like k3s in Docker. It runs containerd and the kubelet inside, so it
# needs a privileged container with the host's cgroups, e.g.
#   docker build -t edgek .
#   docker run -d --name edgek --privileged --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
#     -p 6443:6443 -v edgek-data:/var/lib/edgek edgek server
# Build argument VERSION sets the reported version (default: git describe, if .git is present).

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
	&& mkdir -p /out/bin /out/tmp /out/etc/ssl/certs /out/var/lib/edgek /out/etc/edgek \
	&& chmod 1777 /out/tmp \
	&& cp bin/edgek /out/bin/edgek \
	&& ln -s edgek /out/bin/kubectl \
	&& ln -s edgek /out/bin/ctr \
	&& ln -s edgek /out/bin/crictl \
	&& cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/

FROM scratch
# /bin holds edgek and its kubectl, ctr, crictl symlinks (COPY keeps them as links).
COPY --from=build /out/ /
ENV PATH=/bin
VOLUME /var/lib/edgek
ENTRYPOINT ["/bin/edgek"]
CMD ["server"]
