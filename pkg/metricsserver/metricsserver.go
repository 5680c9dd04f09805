// Package metricsserver serves the resource metrics API (metrics.k8s.io: `kubectl top`,
// HorizontalPodAutoscalers) inside the edgek server with upstream metrics-server
// (sigs.k8s.io/metrics-server) used as a library: no pod and no image, one process fewer than
// a metrics-server Deployment.
//
// It listens on the server's node IP and is reached through the apiserver's aggregator: the
// bundled manifests/metrics-server.yaml holds the APIService, a selector-less Service and the
// RBAC; this package keeps the Service's EndpointSlice pointing at the listener (owned by the
// Service, so that removing the manifest with --disable metrics-server removes it too).
package metricsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiserverapi "k8s.io/apiserver/pkg/apis/apiserver"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/util"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/metrics-server/cmd/metrics-server/app/options"
	"sigs.k8s.io/metrics-server/pkg/api"
	generatedopenapi "sigs.k8s.io/metrics-server/pkg/api/generated/openapi"

	"github.com/edgek-io/edgek/pkg/daemon"
	"github.com/edgek-io/edgek/pkg/pki"
	"github.com/edgek-io/edgek/pkg/upstream"
)

const (
	// Addon is the bundled manifest's name, the one --disable takes.
	Addon = "metrics-server"
	// Namespace and ServiceName are the Service the APIService names.
	Namespace   = "kube-system"
	ServiceName = "metrics-server"
	// portName is the Service's port the EndpointSlice serves.
	portName = "https"
	// managedBy marks the EndpointSlice as edgek's (not the endpointslice controller's).
	managedBy = "edgek.io"
	// recheck is how often the EndpointSlice is checked again (one GET, no write when it is
	// right), so that one deleted by hand comes back.
	recheck = 10 * time.Minute
)

// Config is what the metrics server needs. Built once by the caller.
type Config struct {
	// Addr and Port are where it listens: the server's node IP (an EndpointSlice cannot
	// point at loopback).
	Addr netip.Addr
	Port int
	// ServingCert and ServingKey are its serving certificate, for
	// metrics-server.kube-system.svc, signed by the CA the APIService's caBundle holds.
	ServingCert, ServingKey string
	// Kubeconfig is its identity (system:metrics-server): for the apiserver and for the
	// kubelets' /metrics/resource. ClientCert is the same identity's certificate and key,
	// which the health check presents.
	Kubeconfig            string
	ClientCert, ClientKey string
	// KubeletCA verifies the kubelets' serving certificates.
	KubeletCA string
	// Resolution is how often every kubelet is scraped (metrics-server's --metric-resolution).
	Resolution time.Duration
	// Client writes the EndpointSlice.
	Client kubernetes.Interface
	Log    *slog.Logger
}

// options maps Config onto metrics-server's own options, as its command line would.
func (c *Config) options() (*options.Options, error) {
	o := options.NewOptions()
	o.SecureServing.BindAddress = net.IP(c.Addr.AsSlice())
	o.SecureServing.BindPort = c.Port
	o.SecureServing.ServerCert.CertKey.CertFile = c.ServingCert
	o.SecureServing.ServerCert.CertKey.KeyFile = c.ServingKey
	o.Authentication.RemoteKubeConfigFile = c.Kubeconfig
	// It listens on the node IP: no anonymous requests (as the apiserver's
	// --anonymous-auth=false), so no caller costs a SubjectAccessReview unauthenticated.
	o.Authentication.Anonymous = &apiserverapi.AnonymousAuthConfig{Enabled: false}
	o.Authorization.RemoteKubeConfigFile = c.Kubeconfig
	o.Kubeconfig = c.Kubeconfig
	o.KubeletClient.KubeletCAFile = c.KubeletCA
	o.KubeletClient.KubeletUseNodeStatusPort = true
	o.KubeletClient.KubeletPreferredAddressTypes = []string{"InternalIP", "ExternalIP", "Hostname"}
	o.MetricResolution = c.Resolution
	// Not o.Validate: it would also apply metrics-server's logging options to the process's
	// klog, which edgek has routed into its own logger.
	errs := o.KubeletClient.Validate()
	if c.Resolution < 10*time.Second || c.Resolution*9/10 < o.KubeletClient.KubeletRequestTimeout {
		errs = append(errs, fmt.Errorf("resolution %s must be at least 10s and above the kubelet request timeout %s", c.Resolution, o.KubeletClient.KubeletRequestTimeout))
	}
	return o, errors.Join(errs...)
}

// Component is the metrics server as one edgek component: it starts once the bundled
// manifest is applied (its RBAC lets it read the request-header CA), keeps the EndpointSlice,
// and is ready when it answers /livez.
func (c *Config) Component() daemon.Component {
	return &daemon.Upstream{
		ComponentName: Addon,
		Prepare: func(ctx context.Context) (func(context.Context) error, error) {
			o, err := c.options()
			if err != nil {
				return nil, fmt.Errorf("metrics-server options: %w", err)
			}
			run, err := c.prepare(ctx, o)
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context) error {
				endpoints := make(chan struct{})
				go func() { defer close(endpoints); c.keepEndpoints(ctx) }()
				err := run(ctx)
				<-endpoints // ends with ctx, as run does
				return err
			}, nil
		},
		Health: func(ctx context.Context) error {
			// Its certificate names the Service, not the address: the local check skips
			// verification (the aggregator verifies it against caBundle). Callers must
			// authenticate, even for /livez.
			url := "https://" + net.JoinHostPort(c.Addr.String(), strconv.Itoa(c.Port)) + "/livez"
			return upstream.WaitHealthy(ctx, url, "", &pki.CertPair{Cert: c.ClientCert, Key: c.ClientKey})
		},
	}
}

// prepare builds metrics-server (its listener included, so a port in use fails here). The
// delegated authentication reads a ConfigMap the manifest's RBAC grants: a moment after the
// manifest is applied, that may still be refused, so it is retried for a minute.
func (c *Config) prepare(ctx context.Context, o *options.Options) (func(context.Context) error, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		cfg, err := o.ServerConfig()
		if err == nil {
			renameOpenAPI(cfg.Apiserver)
			s, err := cfg.Complete()
			if err != nil {
				closeListener(o)
				return nil, fmt.Errorf("metrics-server: %w", err)
			}
			return func(ctx context.Context) error { return s.RunUntil(ctx.Done()) }, nil
		}
		if o.SecureServing.Listener == nil || time.Now().After(deadline) {
			// No listener: the address or port is the problem, not the RBAC.
			closeListener(o)
			return nil, fmt.Errorf("metrics-server on %s:%d: %w", c.Addr, c.Port, err)
		}
		c.Log.Debug("metrics-server not configured yet, retrying", "err", err)
		select {
		case <-ctx.Done():
			closeListener(o)
			return nil, context.Cause(ctx)
		case <-time.After(2 * time.Second):
		}
	}
}

// closeListener frees the port of a metrics-server that will not run.
func closeListener(o *options.Options) {
	if o.SecureServing.Listener != nil {
		o.SecureServing.Listener.Close()
		o.SecureServing.Listener = nil
	}
}

// renameOpenAPI serves metrics-server's OpenAPI definitions under the model names that
// this Kubernetes's types give themselves (OpenAPIModelName: io.k8s.metrics.pkg.apis...):
// metrics-server v0.8.0 generated them under Go package paths (k8s.io/metrics/pkg/apis...),
// which this apiserver library no longer maps, and it would fail to start.
func renameOpenAPI(c *genericapiserver.Config) {
	defs := func(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
		in := generatedopenapi.GetOpenAPIDefinitions(func(path string) spec.Ref { return ref(util.ToRESTFriendlyName(path)) })
		out := make(map[string]common.OpenAPIDefinition, len(in))
		for name, d := range in {
			for i, dep := range d.Dependencies {
				d.Dependencies[i] = util.ToRESTFriendlyName(dep)
			}
			out[util.ToRESTFriendlyName(name)] = d
		}
		return out
	}
	namer := openapinamer.NewDefinitionNamer(api.Scheme)
	v2, v3 := genericapiserver.DefaultOpenAPIConfig(defs, namer), genericapiserver.DefaultOpenAPIV3Config(defs, namer)
	v2.Info, v3.Info = c.OpenAPIConfig.Info, c.OpenAPIV3Config.Info
	c.OpenAPIConfig, c.OpenAPIV3Config = v2, v3
}

// keepEndpoints makes the Service's EndpointSlice point at the listener, then checks it
// every recheck.
func (c *Config) keepEndpoints(ctx context.Context) {
	delay := time.Second
	for {
		err := c.ensureEndpoints(ctx)
		if ctx.Err() != nil {
			return
		}
		next := recheck
		if err != nil {
			c.Log.Warn("could not point the metrics-server Service at this server; retrying", "err", err)
			next, delay = delay, min(2*delay, 30*time.Second)
		} else {
			delay = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		}
	}
}

// ensureEndpoints creates or corrects the EndpointSlice; it writes nothing when the slice is
// already right.
func (c *Config) ensureEndpoints(ctx context.Context) error {
	svc, err := c.Client.CoreV1().Services(Namespace).Get(ctx, ServiceName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get Service %s/%s: %w", Namespace, ServiceName, err)
	}
	want := EndpointSlice(svc, c.Addr, c.Port)
	slices := c.Client.DiscoveryV1().EndpointSlices(Namespace)
	got, err := slices.Get(ctx, want.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = slices.Create(ctx, want, metav1.CreateOptions{})
		if err == nil {
			c.Log.Info("metrics API served from this server", "address", net.JoinHostPort(c.Addr.String(), strconv.Itoa(c.Port)))
		}
	case err != nil:
	case !sameEndpoints(got, want):
		want.ResourceVersion = got.ResourceVersion
		_, err = slices.Update(ctx, want, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("write EndpointSlice %s/%s: %w", Namespace, want.Name, err)
	}
	return nil
}

// EndpointSlice is the slice that sends the Service svc to addr:port.
func EndpointSlice(svc *v1.Service, addr netip.Addr, port int) *discoveryv1.EndpointSlice {
	family := discoveryv1.AddressTypeIPv4
	if addr.Is6() {
		family = discoveryv1.AddressTypeIPv6
	}
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      svc.Name,
			Namespace: svc.Namespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: svc.Name,
				discoveryv1.LabelManagedBy:   managedBy,
			},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID}},
		},
		AddressType: family,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{addr.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(int32(port)), Protocol: ptr.To(v1.ProtocolTCP)}},
	}
}

// sameEndpoints reports whether got already says what want says.
func sameEndpoints(got, want *discoveryv1.EndpointSlice) bool {
	if got.AddressType != want.AddressType || len(got.Endpoints) != 1 || len(got.Ports) != 1 ||
		len(got.OwnerReferences) != 1 || got.OwnerReferences[0].UID != want.OwnerReferences[0].UID ||
		got.Labels[discoveryv1.LabelManagedBy] != managedBy || got.Labels[discoveryv1.LabelServiceName] != want.Labels[discoveryv1.LabelServiceName] {
		return false
	}
	e, p := got.Endpoints[0], got.Ports[0]
	return len(e.Addresses) == 1 && e.Addresses[0] == want.Endpoints[0].Addresses[0] &&
		e.Conditions.Ready != nil && *e.Conditions.Ready &&
		p.Name != nil && *p.Name == portName && p.Port != nil && *p.Port == *want.Ports[0].Port
}
