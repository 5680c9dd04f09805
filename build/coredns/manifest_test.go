package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/coredns/caddy/caddyfile"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const manifestPath = "../../manifests/coredns.yaml"

// values holds what the deploy controller renders manifests/coredns.yaml with. A struct, so that
// a misspelt name in the template fails to render.
type values struct {
	ClusterDNS    string
	ClusterDomain string
	ClusterCIDR   string
	ServiceCIDR   string
	CoreDNSImage  string
}

var sample = values{
	ClusterDNS:    "10.43.0.10",
	ClusterDomain: "cluster.local",
	ClusterCIDR:   "10.42.0.0/16",
	ServiceCIDR:   "10.43.0.0/16",
	CoreDNSImage:  "docker.io/edgek/coredns:1.15.0",
}

// addon is the rendered manifest, decoded strictly into the API types.
type addon struct {
	kinds   []string
	sa      *corev1.ServiceAccount
	role    *rbacv1.ClusterRole
	binding *rbacv1.ClusterRoleBinding
	cm      *corev1.ConfigMap
	deploy  *appsv1.Deployment
	svc     *corev1.Service
}

func render(t *testing.T, v values) []byte {
	t.Helper()
	src, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New("coredns.yaml").Option("missingkey=error").Parse(string(src))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decode splits the documents and decodes each into its API type, refusing unknown fields.
func decode(t *testing.T, data []byte) addon {
	t.Helper()
	var a addon
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("document %d: %v", len(a.kinds)+1, err)
		}
		if tm.Kind == "" {
			continue // only comments
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 ServiceAccount":
			a.sa = &corev1.ServiceAccount{}
			obj = a.sa
		case "rbac.authorization.k8s.io/v1 ClusterRole":
			a.role = &rbacv1.ClusterRole{}
			obj = a.role
		case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
			a.binding = &rbacv1.ClusterRoleBinding{}
			obj = a.binding
		case "v1 ConfigMap":
			a.cm = &corev1.ConfigMap{}
			obj = a.cm
		case "apps/v1 Deployment":
			a.deploy = &appsv1.Deployment{}
			obj = a.deploy
		case "v1 Service":
			a.svc = &corev1.Service{}
			obj = a.svc
		default:
			t.Fatalf("unexpected %s %s", tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s: %v", tm.Kind, err)
		}
		a.kinds = append(a.kinds, tm.Kind)
	}
	want := []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Service"}
	if !slices.Equal(a.kinds, want) {
		t.Fatalf("kinds = %v, want %v", a.kinds, want)
	}
	return a
}

func TestManifestRenders(t *testing.T) {
	for _, v := range []values{sample, {
		ClusterDNS: "10.96.0.10", ClusterDomain: "edge.internal", ClusterCIDR: "10.244.0.0/16",
		ServiceCIDR: "10.96.0.0/12", CoreDNSImage: "example.org/dns:test",
	}} {
		t.Run(v.ClusterDomain, func(t *testing.T) {
			a := decode(t, render(t, v))
			if a.svc.Spec.ClusterIP != v.ClusterDNS {
				t.Errorf("Service clusterIP = %q, want %q", a.svc.Spec.ClusterIP, v.ClusterDNS)
			}
			c := a.deploy.Spec.Template.Spec.Containers[0]
			if c.Image != v.CoreDNSImage {
				t.Errorf("image = %q, want %q", c.Image, v.CoreDNSImage)
			}
			want := fmt.Sprintf("kubernetes %s in-addr.arpa ip6.arpa {", v.ClusterDomain)
			if !strings.Contains(a.cm.Data["Corefile"], want) {
				t.Errorf("Corefile lacks %q:\n%s", want, a.cm.Data["Corefile"])
			}
		})
	}
}

func TestManifestObjects(t *testing.T) {
	a := decode(t, render(t, sample))
	for _, m := range []metav1.ObjectMeta{a.sa.ObjectMeta, a.cm.ObjectMeta, a.deploy.ObjectMeta, a.svc.ObjectMeta} {
		if m.Namespace != "kube-system" {
			t.Errorf("%s: namespace %q, want kube-system", m.Name, m.Namespace)
		}
	}
	if a.svc.Name != "kube-dns" || a.svc.Labels["k8s-app"] != "kube-dns" {
		t.Errorf("Service %q labels %v: want kube-dns with k8s-app: kube-dns", a.svc.Name, a.svc.Labels)
	}

	// RBAC: what the kubernetes plugin lists and watches, bound to the pod's service account.
	need := map[string][]string{
		"/endpoints": {"list", "watch"}, "/services": {"list", "watch"}, "/pods": {"list", "watch"},
		"/namespaces": {"list", "watch"}, "discovery.k8s.io/endpointslices": {"list", "watch"},
		"/nodes": {"get"},
	}
	for res, verbs := range need {
		group, resource, _ := strings.Cut(res, "/")
		if !allows(a.role.Rules, group, resource, verbs) {
			t.Errorf("ClusterRole does not allow %v on %q", verbs, res)
		}
	}
	if a.binding.RoleRef.Name != a.role.Name || len(a.binding.Subjects) != 1 ||
		a.binding.Subjects[0].Name != a.sa.Name || a.binding.Subjects[0].Namespace != a.sa.Namespace {
		t.Errorf("ClusterRoleBinding %+v does not bind %s to %s/%s", a.binding, a.role.Name, a.sa.Namespace, a.sa.Name)
	}

	d := a.deploy.Spec
	pod := d.Template.Spec
	if *d.Replicas != 1 || pod.ServiceAccountName != a.sa.Name || pod.DNSPolicy != corev1.DNSDefault ||
		pod.PriorityClassName != "system-cluster-critical" || pod.NodeSelector["kubernetes.io/os"] != "linux" {
		t.Errorf("Deployment spec: replicas %d, serviceAccount %q, dnsPolicy %q, priorityClass %q, nodeSelector %v",
			*d.Replicas, pod.ServiceAccountName, pod.DNSPolicy, pod.PriorityClassName, pod.NodeSelector)
	}
	for _, key := range []string{"CriticalAddonsOnly", "node-role.kubernetes.io/control-plane"} {
		if !slices.ContainsFunc(pod.Tolerations, func(tl corev1.Toleration) bool {
			return tl.Key == key && tl.Operator == corev1.TolerationOpExists
		}) {
			t.Errorf("no toleration for %s", key)
		}
	}
	for k, v := range d.Selector.MatchLabels {
		if d.Template.Labels[k] != v {
			t.Errorf("Deployment selector %s=%s does not match the pod's labels", k, v)
		}
	}
	for k, v := range a.svc.Spec.Selector {
		if d.Template.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not match the pod's labels", k, v)
		}
	}

	// The image runs as user 65532 with no capability: every port must be unprivileged.
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot, user 65532", psc)
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("container securityContext %+v", sc)
	}
	if c.ImagePullPolicy != corev1.PullIfNotPresent || !slices.Equal(c.Args, []string{"-conf", "/etc/coredns/Corefile"}) {
		t.Errorf("pull policy %q, args %q", c.ImagePullPolicy, c.Args)
	}
	ports := map[string]corev1.ContainerPort{}
	for _, p := range c.Ports {
		if p.ContainerPort < 1024 {
			t.Errorf("container port %s=%d needs privileges the container does not have", p.Name, p.ContainerPort)
		}
		ports[p.Name] = p
	}
	for _, sp := range a.svc.Spec.Ports {
		cp, ok := ports[sp.TargetPort.String()]
		if !ok || cp.Protocol != sp.Protocol {
			t.Errorf("Service port %s (%s) targets %q, not a %s container port", sp.Name, sp.Protocol, sp.TargetPort.String(), sp.Protocol)
		}
	}
	for _, name := range []string{"dns", "dns-tcp"} {
		i := slices.IndexFunc(a.svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == name })
		if i < 0 || a.svc.Spec.Ports[i].Port != 53 {
			t.Errorf("Service has no port %s 53", name)
		}
	}
	for _, v := range pod.Volumes {
		if v.ConfigMap == nil || v.ConfigMap.Name != a.cm.Name {
			continue
		}
		for _, it := range v.ConfigMap.Items {
			if _, ok := a.cm.Data[it.Key]; !ok {
				t.Errorf("volume %s uses key %s, not in ConfigMap %s", v.Name, it.Key, a.cm.Name)
			}
		}
	}
	if c.ReadinessProbe.HTTPGet.Path != "/ready" || c.LivenessProbe.HTTPGet.Path != "/health" {
		t.Errorf("probes: readiness %s, liveness %s", c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path)
	}

	checkCorefile(t, a.cm.Data["Corefile"], ports, c)
}

// checkCorefile parses the Corefile with only this binary's directives and checks that it
// listens where the container and its probes expect.
func checkCorefile(t *testing.T, corefile string, ports map[string]corev1.ContainerPort, c corev1.Container) {
	t.Helper()
	blocks, err := caddyfile.Parse("Corefile", strings.NewReader(corefile), directives)
	if err != nil {
		t.Fatalf("Corefile: %v", err)
	}
	if len(blocks) != 1 || !slices.Equal(blocks[0].Keys, []string{fmt.Sprintf(".:%d", ports["dns"].ContainerPort)}) {
		t.Fatalf("Corefile server blocks %+v: want one, .:%d", blocks, ports["dns"].ContainerPort)
	}
	tokens := blocks[0].Tokens
	for _, d := range []string{"errors", "health", "ready", "kubernetes", "hosts", "prometheus", "forward", "cache", "loop", "reload", "loadbalance"} {
		if len(tokens[d]) == 0 {
			t.Errorf("Corefile does not use %s", d)
		}
	}
	// arg returns the token after the directive, "" when it has none or opens a block.
	arg := func(d string) string {
		if ts := tokens[d]; len(ts) > 1 && ts[1].Line == ts[0].Line && ts[1].Text != "{" {
			return ts[1].Text
		}
		return ""
	}
	// health and ready listen on :8080 and :8181 unless given an address.
	if a := arg("health"); a != "" || c.LivenessProbe.HTTPGet.Port.IntValue() != 8080 {
		t.Errorf("health listens on %q, liveness probe on %s", a, c.LivenessProbe.HTTPGet.Port.String())
	}
	if a := arg("ready"); a != "" || c.ReadinessProbe.HTTPGet.Port.IntValue() != 8181 {
		t.Errorf("ready listens on %q, readiness probe on %s", a, c.ReadinessProbe.HTTPGet.Port.String())
	}
	if a, want := arg("prometheus"), fmt.Sprintf(":%d", ports["metrics"].ContainerPort); a != want {
		t.Errorf("prometheus listens on %q, want %q", a, want)
	}
}

func allows(rules []rbacv1.PolicyRule, group, resource string, verbs []string) bool {
	for _, verb := range verbs {
		if !slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
			return slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb)
		}) {
			return false
		}
	}
	return true
}
