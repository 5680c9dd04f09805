package config

// Ports of a node's components that edgek fixes (all on 127.0.0.1 but the kubelet's API).
const (
	// KubeletPort is the kubelet's API (the kubelet's default, on every address): the
	// apiserver calls it for logs, exec and metrics. edgek checks it is free before starting.
	KubeletPort = 10250
	// KubeletHealthzPort is the kubelet's health endpoint (healthzPort in its configuration):
	// edgek waits on it for the kubelet to be ready, and checks it is free before starting.
	KubeletHealthzPort = 10248
	// KubeProxyHealthzPort is kube-proxy's health endpoint (--healthz-bind-address): edgek
	// waits on it for kube-proxy to be ready, and checks it is free before starting.
	KubeProxyHealthzPort = 10256
	// FlannelVXLANPort is the UDP port of flannel's VXLAN traffic between nodes (flannel's
	// default, on every address).
	FlannelVXLANPort = 8472
	// KubeProxyMetricsPort is kube-proxy's metrics endpoint (--metrics-bind-address).
	KubeProxyMetricsPort = 10249
	// MetricsServerPort is where a server's in-process metrics-server listens, on its node
	// IP (pkg/metricsserver; the port kube-scheduler's insecure port had until 1.23). The
	// apiserver's aggregator reaches it there.
	MetricsServerPort = 10251
)
