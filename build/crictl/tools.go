//go:build tools

// Package crictl pins sigs.k8s.io/cri-tools for scripts/build-data.sh, which builds crictl into
// the archive edgek embeds (pkg/data). It is a module of its own because cri-tools v1.34.0 (the
// only version the module proxy serves) builds only against Kubernetes v0.34 libraries, hence
// the replace directives in go.mod; they must not reach the main module or build/tools.
package crictl

import _ "sigs.k8s.io/cri-tools/cmd/crictl"
