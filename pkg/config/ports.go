package config

// Ports of a node's components that edgek fixes, on 127.0.0.1 only.
const (
	// KubeletHealthzPort is the kubelet's health endpoint (healthzPort in its configuration):
	// edgek waits on it for the kubelet to be ready, and checks it is free before starting.
	KubeletHealthzPort = 10248
	// KubeProxyHealthzPort is kube-proxy's health endpoint (--healthz-bind-address): edgek
	// waits on it for kube-proxy to be ready, and checks it is free before starting.
	KubeProxyHealthzPort = 10256
)
