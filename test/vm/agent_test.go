//go:build vm

package vm

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// lanNode is one guest's address on the qemu socket network between the VMs.
type lanNode struct {
	name, mac, ip string
}

var (
	lanServer = lanNode{name: "edgek-server", mac: "52:54:00:77:00:10", ip: "192.168.77.10"}
	lanAgent  = lanNode{name: "edgek-agent", mac: "52:54:00:77:00:11", ip: "192.168.77.11"}
)

// TestAgent joins an agent VM to a server VM over a qemu socket network (the VMs' only link),
// checks a pod on the agent reaches a pod on the server, by IP and by Service name, and that
// the agent's uninstaller leaves nothing of edgek behind.
func TestAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("two VMs: not in -short")
	}
	f := newFixture(t)
	rel := f.rel
	port := freePort(t)
	server := startVM(t, vmOpts{name: "server", httpsAddr: rel.addr,
		lan: fmt.Sprintf("listen=127.0.0.1:%d", port), lanMAC: lanServer.mac})
	time.Sleep(2 * time.Second) // the agent's qemu connects to the server's listening socket
	agent := startVM(t, vmOpts{name: "agent", httpsAddr: rel.addr,
		lan: fmt.Sprintf("connect=127.0.0.1:%d", port), lanMAC: lanAgent.mac})
	s := newSteps(t)

	var ifaces [2]string
	s.do("boot both", func() {
		for i, p := range []struct {
			v *vm
			n lanNode
		}{{server, lanServer}, {agent, lanAgent}} {
			p.v.waitSSH(t, 15*time.Minute, "")
			ifaces[i] = setupLAN(t, p.v, p.n)
			f.prepare(t, p.v)
		}
		server.must(t, 2*time.Minute, "ping -c 3 -W 5 "+lanAgent.ip)
	})
	s.do("install server", func() {
		install(t, server, rel, fmt.Sprintf("server --node-ip %s --flannel-iface %s", lanServer.ip, ifaces[0]))
		waitNodes(t, server, 1, 20*time.Minute)
	})
	s.do("install agent", func() {
		token := strings.TrimSpace(server.must(t, time.Minute, "cat /var/lib/edgek/server/token"))
		install(t, agent, rel, fmt.Sprintf("agent --server https://%s:6443 --token %s --node-ip %s --flannel-iface %s",
			lanServer.ip, token, lanAgent.ip, ifaces[1]))
		waitNodes(t, server, 2, 20*time.Minute)
	})
	s.do("pod on the agent reaches a pod on the server", func() {
		server.must(t, 2*time.Minute, "cat <<'EOF' | "+kubectl+" apply -f -\n"+
			pinnedWebPod(lanServer.name)+"---\n"+pinnedWebPod(lanAgent.name)+"EOF")
		var serverPodIP string
		eventually(t, 15*time.Minute, "both web pods Ready", func() error {
			out, err := server.run(2*time.Minute, kubectl+` wait --for=condition=Ready pod/web-`+lanServer.name+
				` pod/web-`+lanAgent.name+` --timeout=30s && `+kubectl+` get pod web-`+lanServer.name+` -o jsonpath='{.status.podIP}'`)
			serverPodIP = strings.TrimSpace(lastLine(out))
			return err
		})
		eventually(t, 5*time.Minute, "agent pod → server pod", func() error {
			_, err := server.run(2*time.Minute, kubectl+" exec web-"+lanAgent.name+" -- /webserver get http://"+serverPodIP+":8080/")
			return err
		})
		eventually(t, 5*time.Minute, "agent pod → Service by name", func() error {
			_, err := server.run(2*time.Minute, kubectl+" exec web-"+lanAgent.name+" -- /webserver get http://web.default.svc.cluster.local/")
			return err
		})
	})
	s.do("uninstall the agent", func() {
		t.Log(agent.must(t, 10*time.Minute, "/usr/local/bin/edgek-uninstall.sh 2>&1"))
		checkNothingLeft(t, agent)
	})
}

// setupLAN names the guest and gives its socket-network NIC a static address (networkd);
// it returns that NIC's name.
func setupLAN(t *testing.T, v *vm, n lanNode) string {
	t.Helper()
	out := v.must(t, 3*time.Minute, fmt.Sprintf(`hostnamectl set-hostname %[1]s && echo "127.0.1.1 %[1]s" >>/etc/hosts &&
printf '[Match]\nMACAddress=%[2]s\n\n[Network]\nAddress=%[3]s/24\n' >/etc/systemd/network/20-lan.network &&
networkctl reload && for i in $(seq 60); do ip -br addr | grep -q '%[3]s/' && break; sleep 1; done &&
ip -o link | awk -v m=%[2]s '$0 ~ m {sub(":", "", $2); print $2}'`, n.name, n.mac, n.ip))
	iface := strings.TrimSpace(lastLine(out))
	if iface == "" {
		t.Fatalf("%s: no NIC with MAC %s: %q", n.name, n.mac, out)
	}
	return iface
}

func pinnedWebPod(node string) string {
	return `apiVersion: v1
kind: Pod
metadata: {name: web-` + node + `, namespace: default, labels: {app: web}}
spec:
  nodeName: ` + node + `
` + webContainers(2) + webService
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
